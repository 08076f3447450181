use std::process::ExitCode;

use portcullis::server::{config::Config, startup::Application, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
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
