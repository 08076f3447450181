//! Logging set-up: the global subscriber, in the configured format.

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use super::env::{invalid, ConfigError, Env};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl LogFormat {
    /// JSON in production, where logs are collected; readable otherwise.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let default = if production { Self::Json } else { Self::Pretty };
        env.choice(
            "PORTCULLIS_LOG_FORMAT",
            default,
            &[("pretty", Self::Pretty), ("json", Self::Json)],
        )
    }
}

/// The levels logged unless `RUST_LOG` says otherwise.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=warn";

/// Installs the global subscriber. `RUST_LOG` overrides the default levels;
/// a `RUST_LOG` that does not parse is an error, not silently ignored.
/// Calling it twice (as tests do) keeps the first subscriber.
pub fn init(format: LogFormat) -> Result<(), ConfigError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| invalid("RUST_LOG", format!("not a log filter: {e}")))?,
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer()).try_init(),
    };
    // Already installed: nothing to do.
    drop(result);
    Ok(())
}
