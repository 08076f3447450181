//! Typed configuration, read from the environment once at start-up.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::TimeDelta;
use ipnet::IpNet;

use crate::server::{
    credentials::keys::SigningKeys,
    platform::{secret::Secret, telemetry::LogFormat},
    services::throttle::{RateLimit, ThrottlePolicy},
};

/// Secrets shorter than this are refused in production.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub listen_addr: SocketAddr,
    /// Scheme, host and port the browser sees, e.g. `https://auth.example.com`.
    /// Unset: `http://` plus the address actually bound (see `startup`).
    pub public_origin: Option<String>,
    pub database_url: String,
    pub db_max_connections: u32,
    pub signing_keys: SigningKeys,
    pub cookie_secure: bool,
    pub access_token_ttl: TimeDelta,
    pub refresh_token_ttl: TimeDelta,
    /// The `aud` claim of access tokens; services that accept them check it.
    pub token_audience: String,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; about one per core.
    pub hash_concurrency: usize,
    /// Requests waiting for a hashing slot; more get 503 at once.
    pub hash_queue_length: usize,
    /// How long a sign-in waits for a hashing slot before getting 503.
    pub hash_queue_timeout: Duration,
    pub throttle: ThrottlePolicy,
    /// Peers whose `X-Forwarded-For` is believed: the ingress or load
    /// balancers in front of Portcullis. Empty: the socket peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// The longest any request may take, body upload included.
    pub request_timeout: Duration,
    /// Requests served at once; more get 503 at once instead of queueing.
    pub max_concurrent_requests: usize,
    /// Open connections at once; more are closed on arrival.
    pub max_connections: usize,
    /// The longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    pub site_root: PathBuf,
    pub log_format: LogFormat,
}

/// A configuration problem, naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
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
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let environment = match get("PORTCULLIS_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "PORTCULLIS_ENV",
                    format!("expected `development` or `production`, got `{other}`"),
                ))
            }
        };
        let production = environment == Environment::Production;

        // cargo-leptos passes the address it serves on as LEPTOS_SITE_ADDR.
        let (addr_var, addr_value) = match get("PORTCULLIS_LISTEN_ADDR") {
            Some(v) => ("PORTCULLIS_LISTEN_ADDR", v),
            None => (
                "LEPTOS_SITE_ADDR",
                get("LEPTOS_SITE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into()),
            ),
        };
        let listen_addr: SocketAddr = addr_value.trim().parse().map_err(|_| {
            invalid(
                addr_var,
                format!("expected an address like 127.0.0.1:3000, got `{addr_value}`"),
            )
        })?;

        let public_origin = get("PORTCULLIS_PUBLIC_URL")
            .map(|v| parse_origin(&v))
            .transpose()?;

        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/portcullis.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "expected a sqlite:, postgres:// or postgresql:// URL",
            ));
        }

        let db_max_connections =
            parse_number(&get, "PORTCULLIS_DB_MAX_CONNECTIONS", 10, 1, 1000)? as u32;

        let cookie_secure = match get("PORTCULLIS_COOKIE_SECURE") {
            None => production,
            Some(v) => parse_bool("PORTCULLIS_COOKIE_SECURE", &v)?,
        };
        if production && !cookie_secure {
            return Err(invalid(
                "PORTCULLIS_COOKIE_SECURE",
                "must be true in production: session cookies would travel without TLS",
            ));
        }
        let https = public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"));
        if production && !https {
            return Err(invalid(
                "PORTCULLIS_PUBLIC_URL",
                "must be an https:// URL in production",
            ));
        }

        let signing_keys = signing_keys(&get, production)?;

        let access_token_ttl = parse_seconds(
            &get,
            "PORTCULLIS_ACCESS_TOKEN_TTL_SECS",
            15 * 60,
            1,
            24 * 3600,
        )?;
        let refresh_token_ttl = parse_seconds(
            &get,
            "PORTCULLIS_REFRESH_TOKEN_TTL_SECS",
            7 * 24 * 3600,
            1,
            365 * 24 * 3600,
        )?;
        if refresh_token_ttl < access_token_ttl {
            return Err(invalid(
                "PORTCULLIS_REFRESH_TOKEN_TTL_SECS",
                "must not be shorter than PORTCULLIS_ACCESS_TOKEN_TTL_SECS",
            ));
        }

        let token_audience =
            get("PORTCULLIS_TOKEN_AUDIENCE").unwrap_or_else(|| "portcullis".into());
        let argon2_memory_kib = parse_number(
            &get,
            "PORTCULLIS_ARGON2_MEMORY_KIB",
            19_456,
            8,
            4 * 1024 * 1024,
        )? as u32;
        let argon2_iterations =
            parse_number(&get, "PORTCULLIS_ARGON2_ITERATIONS", 2, 1, 100)? as u32;
        let argon2_parallelism =
            parse_number(&get, "PORTCULLIS_ARGON2_PARALLELISM", 1, 1, 64)? as u32;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let hash_concurrency =
            parse_number(&get, "PORTCULLIS_HASH_CONCURRENCY", cores, 1, 1024)? as usize;
        let hash_queue_length = parse_number(
            &get,
            "PORTCULLIS_HASH_QUEUE_LENGTH",
            16 * hash_concurrency as u64,
            1,
            1_000_000,
        )? as usize;
        let hash_queue_timeout = Duration::from_millis(parse_number(
            &get,
            "PORTCULLIS_HASH_QUEUE_TIMEOUT_MS",
            2_000,
            1,
            60_000,
        )?);

        let throttle = throttle_policy(&get)?;
        let trusted_proxies = match get("PORTCULLIS_TRUSTED_PROXIES") {
            Some(list) => parse_networks("PORTCULLIS_TRUSTED_PROXIES", &list)?,
            None => Vec::new(),
        };
        let request_timeout = Duration::from_secs(parse_number(
            &get,
            "PORTCULLIS_REQUEST_TIMEOUT_SECS",
            30,
            1,
            600,
        )?);
        let max_concurrent_requests = parse_number(
            &get,
            "PORTCULLIS_MAX_CONCURRENT_REQUESTS",
            1024,
            1,
            1_000_000,
        )? as usize;
        let max_connections =
            parse_number(&get, "PORTCULLIS_MAX_CONNECTIONS", 10_000, 1, 1_000_000)? as usize;
        let header_timeout = Duration::from_secs(parse_number(
            &get,
            "PORTCULLIS_HEADER_TIMEOUT_SECS",
            10,
            1,
            600,
        )?);

        let site_root =
            PathBuf::from(get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()));

        let log_format = match get("PORTCULLIS_LOG_FORMAT").as_deref() {
            None if production => LogFormat::Json,
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "PORTCULLIS_LOG_FORMAT",
                    format!("expected `pretty` or `json`, got `{other}`"),
                ))
            }
        };

        Ok(Self {
            environment,
            listen_addr,
            public_origin,
            database_url,
            db_max_connections,
            signing_keys,
            cookie_secure,
            access_token_ttl,
            refresh_token_ttl,
            token_audience,
            argon2_memory_kib,
            argon2_iterations,
            argon2_parallelism,
            hash_concurrency,
            hash_queue_length,
            hash_queue_timeout,
            throttle,
            trusted_proxies,
            request_timeout,
            max_concurrent_requests,
            max_connections,
            header_timeout,
            site_root,
            log_format,
        })
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

/// Comma-separated values, blanks dropped.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

fn signing_keys<G>(get: &G, production: bool) -> Result<SigningKeys, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    let algorithm = get("PORTCULLIS_JWT_ALGORITHM").unwrap_or_else(|| "HS256".into());
    match algorithm.as_str() {
        "HS256" => {
            if get("PORTCULLIS_JWT_SIGNING_KEY").is_some() {
                return Err(invalid(
                    "PORTCULLIS_JWT_SIGNING_KEY",
                    "is for EdDSA; set PORTCULLIS_JWT_ALGORITHM=EdDSA or use PORTCULLIS_JWT_SECRET",
                ));
            }
            let current = match get("PORTCULLIS_JWT_SECRET") {
                Some(v) => hs256_secret("PORTCULLIS_JWT_SECRET", &v, production)?,
                None if production => {
                    return Err(invalid(
                        "PORTCULLIS_JWT_SECRET",
                        "required in production (at least 32 random bytes)",
                    ))
                }
                // Development without configuration: tokens die with the process.
                None => Secret::random(MIN_SECRET_BYTES),
            };
            let accepted = match get("PORTCULLIS_JWT_ACCEPTED_SECRETS") {
                Some(v) => list(&v)
                    .map(|s| hs256_secret("PORTCULLIS_JWT_ACCEPTED_SECRETS", s, production))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            Ok(SigningKeys::Hs256 { current, accepted })
        }
        "EdDSA" => {
            if get("PORTCULLIS_JWT_SECRET").is_some() {
                return Err(invalid(
                    "PORTCULLIS_JWT_SECRET",
                    "is for HS256; EdDSA signs with PORTCULLIS_JWT_SIGNING_KEY",
                ));
            }
            let current = match get("PORTCULLIS_JWT_SIGNING_KEY") {
                Some(v) => Secret::new(key_bytes("PORTCULLIS_JWT_SIGNING_KEY", &v)?.to_vec()),
                None if production => {
                    return Err(invalid(
                        "PORTCULLIS_JWT_SIGNING_KEY",
                        "required in production: run `portcullis generate-key` for one",
                    ))
                }
                None => Secret::random(32),
            };
            let accepted_public = match get("PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS") {
                Some(v) => list(&v)
                    .map(|k| key_bytes("PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS", k))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            Ok(SigningKeys::EdDsa {
                current,
                accepted_public,
            })
        }
        other => Err(invalid(
            "PORTCULLIS_JWT_ALGORITHM",
            format!("expected `HS256` or `EdDSA`, got `{other}`"),
        )),
    }
}

fn hs256_secret(
    variable: &'static str,
    value: &str,
    production: bool,
) -> Result<Secret, ConfigError> {
    if production && value.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            variable,
            format!("too weak: use at least {MIN_SECRET_BYTES} random bytes"),
        ));
    }
    Ok(Secret::new(value.as_bytes().to_vec()))
}

/// An Ed25519 key (private seed or public key): 32 bytes, base64url.
fn key_bytes(variable: &'static str, value: &str) -> Result<[u8; 32], ConfigError> {
    URL_SAFE_NO_PAD
        .decode(value.trim().trim_end_matches('='))
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            invalid(
                variable,
                "expected 32 bytes in base64url, as `portcullis generate-key` prints",
            )
        })
}

fn throttle_policy<G>(get: &G) -> Result<ThrottlePolicy, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    let defaults = ThrottlePolicy::default();
    let enabled = match get("PORTCULLIS_THROTTLE") {
        Some(v) => parse_bool("PORTCULLIS_THROTTLE", &v)?,
        None => true,
    };
    let count = |variable, default: u32| -> Result<u32, ConfigError> {
        Ok(parse_number(get, variable, u64::from(default), 1, 1_000_000)? as u32)
    };
    let backoff_base = Duration::from_secs(parse_number(
        get,
        "PORTCULLIS_LOGIN_BACKOFF_BASE_SECS",
        defaults.backoff_base.as_secs(),
        1,
        3600,
    )?);
    let backoff_max = Duration::from_secs(parse_number(
        get,
        "PORTCULLIS_LOGIN_BACKOFF_MAX_SECS",
        defaults.backoff_max.as_secs(),
        1,
        24 * 3600,
    )?);
    if backoff_max < backoff_base {
        return Err(invalid(
            "PORTCULLIS_LOGIN_BACKOFF_MAX_SECS",
            "must not be shorter than PORTCULLIS_LOGIN_BACKOFF_BASE_SECS",
        ));
    }
    Ok(ThrottlePolicy {
        enabled,
        login_failures_per_account: count(
            "PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT",
            defaults.login_failures_per_account,
        )?,
        login_failures_per_ip: count(
            "PORTCULLIS_LOGIN_FAILURES_PER_IP",
            defaults.login_failures_per_ip,
        )?,
        backoff_base,
        backoff_max,
        signup_per_ip: RateLimit {
            max: count(
                "PORTCULLIS_SIGNUP_LIMIT_PER_HOUR",
                defaults.signup_per_ip.max,
            )?,
            window: Duration::from_secs(3600),
        },
        refresh_per_ip: RateLimit {
            max: count(
                "PORTCULLIS_REFRESH_LIMIT_PER_MINUTE",
                defaults.refresh_per_ip.max,
            )?,
            window: Duration::from_secs(60),
        },
    })
}

/// `10.0.0.0/8, 192.168.1.5`: networks, or single addresses.
fn parse_networks(variable: &'static str, value: &str) -> Result<Vec<IpNet>, ConfigError> {
    list(value)
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        variable,
                        format!("expected networks like 10.0.0.0/8, got `{item}`"),
                    )
                })
        })
        .collect()
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(invalid(
            variable,
            format!("expected true or false, got `{other}`"),
        )),
    }
}

fn parse_number<G>(
    get: &G,
    variable: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    let Some(raw) = get(variable) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            variable,
            format!("expected a whole number from {min} to {max}, got `{raw}`"),
        )),
    }
}

/// A whole number of seconds, as a span of time.
fn parse_seconds<G>(
    get: &G,
    variable: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<TimeDelta, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    let secs = parse_number(get, variable, default, min, max)?;
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(|| invalid(variable, format!("{secs} seconds is out of range")))
}

/// Accepts `scheme://host[:port]` with an optional trailing slash, nothing more.
fn parse_origin(value: &str) -> Result<String, ConfigError> {
    const VAR: &str = "PORTCULLIS_PUBLIC_URL";
    let value = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| invalid(VAR, "expected an http:// or https:// URL"))?;
    let well_formed = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !well_formed {
        return Err(invalid(
            VAR,
            format!("expected scheme://host[:port] without a path, got `{value}`"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const STRONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn zero_configuration_works_in_development() {
        let c = config(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_origin, None);
        assert!(c.database_url.starts_with("sqlite:"));
        assert!(!c.cookie_secure);
        assert!(matches!(
            &c.signing_keys,
            SigningKeys::Hs256 { current, accepted } if current.len() >= MIN_SECRET_BYTES && accepted.is_empty()
        ));
        assert!(c.throttle.enabled);
        assert!(c.trusted_proxies.is_empty());
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
        assert!(c.cookie_secure);
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
        ];
        for (var, value) in cases {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}");
            assert!(err.to_string().starts_with(var));
        }
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
            &c.signing_keys,
            SigningKeys::EdDsa { current, accepted_public } if current.len() == 32 && accepted_public.len() == 2
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
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.168.1.5/32", "fd00::/8"]);
    }

    #[test]
    fn public_url_is_normalised_to_an_origin() {
        let c = config(&[("PORTCULLIS_PUBLIC_URL", "HTTPS://Auth.Example.com:8443/")]).unwrap();
        assert_eq!(
            c.public_origin.as_deref(),
            Some("https://auth.example.com:8443")
        );
    }
}
