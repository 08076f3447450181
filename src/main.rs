use std::process::ExitCode;

use portcullis::server::{
    cli::{check_login, healthcheck},
    config::Config,
    credentials::{
        keys::generate_ed25519,
        password::{hash_once, Workspace},
        verify_timing::verify_timing,
    },
    platform::{
        allocator,
        clock::{Clock, SystemClock},
        shutdown, telemetry,
    },
    startup::{grant_role, Application},
};

const USAGE: &str = "usage: portcullis [generate-key | hash-timing | verify-timing | healthcheck\n\
  | check-login ... | admin grant EMAIL ROLE]\n\n\
  (no arguments)  serve, configured by the environment (see README)\n\
  healthcheck     exit 0 if this configuration's server answers /health\n\
                  (for container health checks; no curl needed)\n\
  check-login --url URL --email EMAIL --password-file FILE [--timeout-secs N]\n\
                  the uptime check: sign in, read /api/auth/me, refresh and\n\
                  sign out, printing each step's time; exit 1 on any failure\n\
  generate-key    print a new Ed25519 signing key and its public key\n\
  hash-timing     print the median time of one password hash with the\n\
                  configured Argon2id parameters, in milliseconds\n\
  verify-timing   print the microseconds one access-token check takes\n\
                  (portcullis-verify), for HS256 and for EdDSA\n\
  admin grant EMAIL ROLE\n\
                  give the account with EMAIL the role ROLE (e.g. admin)\n\
                  in the configured database; nothing if it holds it";

fn main() -> ExitCode {
    allocator::return_large_blocks_to_the_os();
    match std::env::args().nth(1).as_deref() {
        None => serve(),
        Some("generate-key") => {
            let (private, public) = generate_ed25519();
            println!("PORTCULLIS_JWT_SIGNING_KEY={private}");
            println!("# public key, for PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS: {public}");
            ExitCode::SUCCESS
        }
        Some("hash-timing") => hash_timing(),
        Some("verify-timing") => match verify_timing(20_000, SystemClock.now()) {
            Ok(timings) => {
                for (algorithm, micros) in timings {
                    println!("{algorithm} {micros:.2}");
                }
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("portcullis: {err}");
                ExitCode::FAILURE
            }
        },
        Some("admin") => admin(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("healthcheck") => health_check(),
        Some("check-login") => check_login(&std::env::args().skip(2).collect::<Vec<_>>()),
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

/// The configuration, or the exit status after saying what is wrong.
fn config_from_env() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|err| {
        eprintln!("portcullis: invalid configuration: {err}");
        ExitCode::from(2)
    })
}

/// A runtime for a subcommand's few requests.
fn one_thread_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("portcullis: {err}");
            ExitCode::FAILURE
        })
}

/// `healthcheck`: asks the server this environment configures.
fn health_check() -> ExitCode {
    let config = match config_from_env() {
        Ok(config) => config,
        Err(code) => return code,
    };
    match healthcheck::check(healthcheck::probe_addr(config.http.listen_addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("portcullis: unhealthy: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `check-login --url … --email … --password-file …`.
fn check_login(args: &[String]) -> ExitCode {
    let probe = match check_login::Probe::parse(args) {
        Ok(probe) => probe,
        Err(err) => {
            eprintln!(
                "portcullis: {err}\nusage: portcullis {}",
                check_login::USAGE
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match one_thread_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(check_login::run(&probe)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("portcullis: check-login: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `admin grant EMAIL ROLE`.
fn admin(args: &[String]) -> ExitCode {
    let [command, email, role] = args else {
        eprintln!("portcullis: admin takes `grant EMAIL ROLE`\n{USAGE}");
        return ExitCode::from(2);
    };
    if command != "grant" {
        eprintln!("portcullis: unknown admin command `{command}`\n{USAGE}");
        return ExitCode::from(2);
    }
    let config = match config_from_env() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match one_thread_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(grant_role(&config, email, role)) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("portcullis: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The median of 21 hashes, after two to warm up.
fn hash_timing() -> ExitCode {
    let config = match config_from_env() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let params = config.hashing.params;
    // One workspace for all, as a hashing slot keeps its own.
    let mut workspace = match Workspace::new(params) {
        Ok(workspace) => workspace,
        Err(err) => {
            eprintln!("portcullis: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut times = Vec::new();
    for _ in 0..23 {
        match hash_once(params, &mut workspace) {
            Ok(took) => times.push(took),
            Err(err) => {
                eprintln!("portcullis: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut measured = times.split_off(2);
    measured.sort();
    let Some(median) = measured.get(measured.len() / 2) else {
        eprintln!("portcullis: no hash was timed");
        return ExitCode::FAILURE;
    };
    println!("{:.3}", median.as_secs_f64() * 1000.0);
    ExitCode::SUCCESS
}

fn serve() -> ExitCode {
    let config = match config_from_env() {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Err(err) = telemetry::init(config.log_format) {
        eprintln!("portcullis: invalid configuration: {err}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "could not start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "portcullis listening");
    match app.run_until_stopped(shutdown::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}
