//! Logging set-up: the global subscriber, in the configured format.

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use super::env::{ConfigError, Env};

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

/// Installs the global subscriber. `RUST_LOG` overrides the default level.
/// Calling it twice (as tests do) keeps the first subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
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
}
