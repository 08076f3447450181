//! The whole configuration, read from the environment once at start-up.
//! Each section is defined beside the code that uses it and reads its own
//! variables; this module gathers them and checks how they fit together.

use crate::server::{
    credentials::{cookies::SessionCookies, password::HashingConfig, tokens::TokenConfig},
    domain::host_pattern::is_at_or_under,
    http::{config::HttpConfig, middleware::limits::LoadLimits},
    platform::{
        env::{invalid, ConfigError, Env},
        serve::ConnectionLimits,
        telemetry::{metrics::MetricsConfig, LogFormat},
    },
    services::{
        bootstrap::BootstrapAdmin, forward_auth::GatewayPolicy, machines::MachinePolicy,
        retention::RetentionPolicy, sessions::SessionPolicy, throttle::ThrottlePolicy,
    },
    store::db::DbConfig,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub http: HttpConfig,
    pub load: LoadLimits,
    pub connections: ConnectionLimits,
    pub db: DbConfig,
    pub tokens: TokenConfig,
    pub sessions: SessionPolicy,
    pub cookies: SessionCookies,
    pub hashing: HashingConfig,
    pub throttle: ThrottlePolicy,
    pub retention: RetentionPolicy,
    pub bootstrap_admin: BootstrapAdmin,
    pub gateway: GatewayPolicy,
    pub machines: MachinePolicy,
    pub metrics: MetricsConfig,
    pub log_format: LogFormat,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment. Empty values count as unset.
    pub fn from_lookup<F>(lookup: F) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let env = Env::new(&lookup);
        let environment = env.choice(
            "PORTCULLIS_ENV",
            Environment::Development,
            &[
                ("development", Environment::Development),
                ("production", Environment::Production),
            ],
        )?;
        let production = environment == Environment::Production;
        let config = Self {
            environment,
            http: HttpConfig::from_env(&env, production)?,
            load: LoadLimits::from_env(&env)?,
            connections: ConnectionLimits::from_env(&env)?,
            db: DbConfig::from_env(&env)?,
            cookies: SessionCookies::from_env(&env, production)?,
            tokens: TokenConfig::from_env(&env, production)?,
            sessions: SessionPolicy::from_env(&env)?,
            hashing: HashingConfig::from_env(&env)?,
            throttle: ThrottlePolicy::from_env(&env)?,
            retention: RetentionPolicy::from_env(&env)?,
            bootstrap_admin: BootstrapAdmin::from_env(&env)?,
            gateway: GatewayPolicy::from_env(&env, production)?,
            machines: MachinePolicy::from_env(&env)?,
            metrics: MetricsConfig::from_env(&env)?,
            log_format: LogFormat::from_env(&env, production)?,
        };
        // Development's defaults (random keys, plain cookies) are for this
        // machine only; serving other hosts is a choice to state.
        let reachable = !config.http.listen_addr.ip().is_loopback();
        if reachable && env.get("PORTCULLIS_ENV").is_none() {
            return Err(invalid(
                "PORTCULLIS_ENV",
                format!(
                    "must be set to listen on {}, which other hosts can reach: \
                     `production`, or `development` to do without its safeguards",
                    config.http.listen_addr
                ),
            ));
        }
        // A session is used by refreshing, once per access token at most:
        // an idle timeout shorter than that would end active sessions.
        if config.sessions.idle_timeout <= config.tokens.access_ttl {
            return Err(invalid(
                "PORTCULLIS_SESSION_IDLE_TIMEOUT",
                "must be longer than PORTCULLIS_ACCESS_TOKEN_TTL_SECS",
            ));
        }
        if config.sessions.refresh_ttl < config.tokens.access_ttl {
            return Err(invalid(
                "PORTCULLIS_REFRESH_TOKEN_TTL_SECS",
                "must not be shorter than PORTCULLIS_ACCESS_TOKEN_TTL_SECS",
            ));
        }
        // The access cookie must reach this host as well as its siblings.
        if let Some(domain) = config.cookies.domain() {
            let host = config
                .http
                .public_origin
                .as_deref()
                .and_then(|origin| url::Url::parse(origin).ok())
                .and_then(|url| url.host_str().map(str::to_owned));
            let under = host
                .as_deref()
                .is_some_and(|host| is_at_or_under(host, domain));
            if !under {
                return Err(invalid(
                    "PORTCULLIS_COOKIE_DOMAIN",
                    format!("`{domain}` must be PORTCULLIS_PUBLIC_URL's host or a domain above it"),
                ));
            }
        }
        Ok(config)
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::server::{
        credentials::keys::{SigningKeys, MIN_SECRET_BYTES},
        platform::telemetry::LogFormat,
    };

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const STRONG: &str = "kV3q9ZtX1mB7rP2wY8sL4nD6hF0gJ5cA";

    #[test]
    fn zero_configuration_works_in_development() {
        let c = config(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.http.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.http.public_origin, None);
        assert!(c.db.url.starts_with("sqlite:"));
        assert!(!c.cookies.secure());
        assert!(matches!(
            &c.tokens.signing_keys,
            SigningKeys::Hs256 { current, accepted } if current.expose().len() >= MIN_SECRET_BYTES && accepted.is_empty()
        ));
        assert!(c.throttle.enabled);
        assert!(c.http.trusted_proxies.is_empty());
    }

    #[test]
    fn production_requires_a_strong_secret() {
        let base = [
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
        ];
        let err = config(&base).unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_JWT_SECRET");

        let mut weak = base.to_vec();
        weak.push(("PORTCULLIS_JWT_SECRET", "short"));
        assert_eq!(config(&weak).unwrap_err().variable, "PORTCULLIS_JWT_SECRET");

        let mut strong = base.to_vec();
        strong.push(("PORTCULLIS_JWT_SECRET", STRONG));
        let c = config(&strong).unwrap();
        assert!(c.cookies.secure());
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn production_refuses_insecure_cookies() {
        let err = config(&[
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
            ("PORTCULLIS_JWT_SECRET", STRONG),
            ("PORTCULLIS_COOKIE_SECURE", "false"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_COOKIE_SECURE");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases = [
            ("PORTCULLIS_ENV", "staging"),
            ("PORTCULLIS_LISTEN_ADDR", "not-an-address"),
            ("PORTCULLIS_PUBLIC_URL", "ftp://example.com"),
            ("PORTCULLIS_PUBLIC_URL", "https://example.com/path"),
            ("DATABASE_URL", "mysql://localhost/x"),
            ("PORTCULLIS_DB_MAX_CONNECTIONS", "0"),
            ("PORTCULLIS_COOKIE_SECURE", "maybe"),
            ("PORTCULLIS_ACCESS_TOKEN_TTL_SECS", "-5"),
            ("PORTCULLIS_LOG_FORMAT", "xml"),
            ("PORTCULLIS_JWT_ALGORITHM", "RS256"),
            ("PORTCULLIS_JWT_SIGNING_KEY", "abc"),
            ("PORTCULLIS_THROTTLE", "sometimes"),
            ("PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT", "0"),
            ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("PORTCULLIS_TRUSTED_PROXIES", "proxy.local"),
            ("PORTCULLIS_REQUEST_TIMEOUT_SECS", "0"),
            ("PORTCULLIS_MAX_CONCURRENT_REQUESTS", "none"),
            ("PORTCULLIS_MAX_CONNECTIONS", "0"),
            ("PORTCULLIS_HEADER_TIMEOUT_SECS", "forever"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "https://app.example.com"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "10.0.0.1"),
            ("PORTCULLIS_ACCESS_RULES", "/no/such/rules.toml"),
            ("PORTCULLIS_CORS_ORIGINS", "ftp://app.example.com"),
            ("PORTCULLIS_CORS_ORIGINS", "https://app.example.com/path"),
            ("PORTCULLIS_COOKIE_DOMAIN", "com"),
            // Not above the public URL's host (127.0.0.1:3000 here).
            ("PORTCULLIS_COOKIE_DOMAIN", "example.com"),
        ];
        for (var, value) in cases {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let vars: Vec<(&str, &str)> = include_str!("../../../.env.example")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .collect();
        assert!(vars.len() > 20);
        config(&vars).unwrap();
    }

    #[test]
    fn machine_tokens_live_five_minutes_at_most_and_keys_a_bounded_time() {
        let c = config(&[]).unwrap();
        assert_eq!(c.machines.token_ttl, chrono::TimeDelta::minutes(5));
        assert_eq!(c.machines.key_default_lifetime, chrono::TimeDelta::days(90));
        assert_eq!(c.machines.key_max_lifetime, chrono::TimeDelta::days(365));
        for (name, value) in [
            ("PORTCULLIS_MACHINE_TOKEN_TTL_SECS", "301"),
            ("PORTCULLIS_MACHINE_TOKEN_TTL_SECS", "0"),
            ("PORTCULLIS_API_KEY_MAX_DAYS", "0"),
            ("PORTCULLIS_API_KEY_MAX_DAYS", "3651"),
        ] {
            assert_eq!(
                config(&[(name, value)]).unwrap_err().variable,
                name,
                "{value}"
            );
        }
        // A maximum under 90 days is the default too.
        let short = config(&[("PORTCULLIS_API_KEY_MAX_DAYS", "30")]).unwrap();
        assert_eq!(
            short.machines.key_default_lifetime,
            chrono::TimeDelta::days(30)
        );
    }

    #[test]
    fn the_idle_timeout_must_outlast_an_access_token() {
        let err = config(&[
            ("PORTCULLIS_ACCESS_TOKEN_TTL_SECS", "900"),
            ("PORTCULLIS_SESSION_IDLE_TIMEOUT", "10m"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_SESSION_IDLE_TIMEOUT");
        assert!(config(&[("PORTCULLIS_SESSION_IDLE_TIMEOUT", "16m")]).is_ok());
    }

    #[test]
    fn refresh_lifetime_cannot_be_shorter_than_access_lifetime() {
        let err = config(&[
            ("PORTCULLIS_ACCESS_TOKEN_TTL_SECS", "600"),
            ("PORTCULLIS_REFRESH_TOKEN_TTL_SECS", "60"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_REFRESH_TOKEN_TTL_SECS");
    }

    #[test]
    fn eddsa_takes_a_32_byte_key_and_older_public_keys() {
        let (private, public) = crate::server::credentials::keys::generate_ed25519();
        let c = config(&[
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &private),
            (
                "PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS",
                &format!("{public}, {public}"),
            ),
        ])
        .unwrap();
        assert!(matches!(
            &c.tokens.signing_keys,
            SigningKeys::EdDsa { current, accepted_public } if current.expose().len() == 32 && accepted_public.len() == 2
        ));
        // A secret meant for HS256 alongside EdDSA is a mistake, not ignored.
        let err = config(&[
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SECRET", STRONG),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_JWT_SECRET");
        let err = config(&[
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_JWT_SIGNING_KEY");
    }

    #[test]
    fn production_refuses_weak_accepted_secrets() {
        let err = config(&[
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
            ("PORTCULLIS_JWT_SECRET", STRONG),
            ("PORTCULLIS_JWT_ACCEPTED_SECRETS", "short"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PORTCULLIS_JWT_ACCEPTED_SECRETS");
    }

    #[test]
    fn trusted_proxies_take_networks_and_single_addresses() {
        let c = config(&[(
            "PORTCULLIS_TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.5,fd00::/8",
        )])
        .unwrap();
        let shown: Vec<String> = c
            .http
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.168.1.5/32", "fd00::/8"]);
    }

    #[test]
    fn the_cookie_domain_must_cover_the_public_host() {
        let with = |public: &str, domain: &str| {
            config(&[
                ("PORTCULLIS_PUBLIC_URL", public),
                ("PORTCULLIS_COOKIE_DOMAIN", domain),
            ])
        };
        assert!(with("http://auth.example.com", "example.com").is_ok());
        assert!(with("http://example.com", ".example.com").is_ok());
        for (public, domain) in [
            ("http://auth.example.com", "other.com"),
            ("http://auth.badexample.com", "example.com"),
            ("http://example.com", "auth.example.com"),
        ] {
            let err = with(public, domain).unwrap_err();
            assert_eq!(
                err.variable, "PORTCULLIS_COOKIE_DOMAIN",
                "{public} {domain}"
            );
        }
    }

    #[test]
    fn production_allows_only_https_cross_origin_callers_and_returns() {
        let base = [
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
            ("PORTCULLIS_JWT_SECRET", STRONG),
        ];
        let mut cors = base.to_vec();
        cors.push(("PORTCULLIS_CORS_ORIGINS", "http://app.example.com"));
        assert_eq!(
            config(&cors).unwrap_err().variable,
            "PORTCULLIS_CORS_ORIGINS"
        );
        let mut hosts = base.to_vec();
        hosts.push(("PORTCULLIS_ALLOWED_RETURN_HOSTS", "app.example.com"));
        let c = config(&hosts).unwrap();
        assert_eq!(
            c.gateway.return_hosts.check("http://app.example.com/"),
            None
        );
        assert!(c
            .gateway
            .return_hosts
            .check("https://app.example.com/")
            .is_some());
    }

    #[test]
    fn public_url_is_normalised_to_an_origin() {
        let c = config(&[("PORTCULLIS_PUBLIC_URL", "HTTPS://Auth.Example.com:8443/")]).unwrap();
        assert_eq!(
            c.http.public_origin.as_deref(),
            Some("https://auth.example.com:8443")
        );
    }
}
