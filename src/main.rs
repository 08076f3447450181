use std::process::ExitCode;

use portcullis::server::{
    auth::keys::generate_ed25519, config::Config, startup::Application, telemetry,
};

const USAGE: &str = "usage: portcullis [generate-key]\n\n\
  (no arguments)  serve, configured by the environment (see README)\n\
  generate-key    print a new Ed25519 signing key and its public key";

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => serve().await,
        Some("generate-key") => {
            let (private, public) = generate_ed25519();
            println!("PORTCULLIS_JWT_SIGNING_KEY={private}");
            println!("# public key, for PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS: {public}");
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("portcullis: unknown command `{other}`\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("portcullis: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);

    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "portcullis listening");
    match app.run_until_stopped(telemetry::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}
