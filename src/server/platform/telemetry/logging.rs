//! Logging set-up: the global subscriber, in the configured format.

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::server::platform::env::{invalid, ConfigError, Env};

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

/// Text a client chose (an error's detail quoting its input), made safe to
/// log: control characters, line breaks and ANSI escapes come out as
/// escapes (`\n`, `\u{1b}`), so no one can forge a log line or colour a
/// terminal. Everything else is kept as it is.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_cannot_break_or_colour_a_log_line() {
        let forged = "x\nINFO portcullis: signed in as admin\r\u{1b}[31mred\u{2028}";
        let escaped = escape(forged);
        assert!(!escaped.chars().any(|c| c.is_control()), "{escaped}");
        assert_eq!(
            escaped,
            "x\\nINFO portcullis: signed in as admin\\r\\u{1b}[31mred\\u{2028}"
        );
        assert!(matches!(
            escape("plain ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
