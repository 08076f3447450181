//! Where the server listens, what origin browsers see, whom it believes
//! about client addresses, and where the site's files are.

use std::{net::SocketAddr, path::PathBuf};

use ipnet::IpNet;

use crate::server::platform::env::{invalid, ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen_addr: SocketAddr,
    /// Scheme, host and port the browser sees, e.g. `https://auth.example.com`.
    /// Unset: `http://` plus the address actually bound (see `startup`).
    pub public_origin: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed: the ingress or load
    /// balancers in front of Portcullis. Empty: the socket peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// The built site (WASM, CSS, assets), as cargo-leptos lays it out.
    pub site_root: PathBuf,
    /// Other origins (a front end of its own) allowed to call the JSON API
    /// with the browser's cookies; exact `scheme://host[:port]` each.
    pub cors_origins: Vec<String>,
}

impl HttpConfig {
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        // cargo-leptos passes the address it serves on as LEPTOS_SITE_ADDR.
        let (addr_var, addr_value) = match env.get("PORTCULLIS_LISTEN_ADDR") {
            Some(v) => ("PORTCULLIS_LISTEN_ADDR", v),
            None => (
                "LEPTOS_SITE_ADDR",
                env.string("LEPTOS_SITE_ADDR", "127.0.0.1:3000"),
            ),
        };
        let listen_addr: SocketAddr = addr_value.trim().parse().map_err(|_| {
            invalid(
                addr_var,
                format!("expected an address like 127.0.0.1:3000, got `{addr_value}`"),
            )
        })?;
        let public_origin = env
            .get("PORTCULLIS_PUBLIC_URL")
            .map(|v| parse_origin("PORTCULLIS_PUBLIC_URL", &v))
            .transpose()?;
        let https = public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"));
        if production && !https {
            return Err(invalid(
                "PORTCULLIS_PUBLIC_URL",
                "must be an https:// URL in production",
            ));
        }
        Ok(Self {
            listen_addr,
            public_origin,
            trusted_proxies: parse_networks(
                "PORTCULLIS_TRUSTED_PROXIES",
                &env.list("PORTCULLIS_TRUSTED_PROXIES"),
            )?,
            site_root: PathBuf::from(env.string("LEPTOS_SITE_ROOT", "target/site")),
            cors_origins: env
                .list(CORS)
                .iter()
                .map(|value| {
                    let origin = parse_origin(CORS, value)?;
                    if production && !origin.starts_with("https://") {
                        return Err(invalid(
                            CORS,
                            format!("`{origin}` must be https:// in production"),
                        ));
                    }
                    Ok(origin)
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `10.0.0.0/8, 192.168.1.5`: networks, or single addresses.
fn parse_networks(variable: &'static str, items: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    items
        .iter()
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

const CORS: &str = "PORTCULLIS_CORS_ORIGINS";

/// Accepts `scheme://host[:port]` with an optional trailing slash, nothing more.
fn parse_origin(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| invalid(var, "expected an http:// or https:// URL"))?;
    let well_formed = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !well_formed {
        return Err(invalid(
            var,
            format!("expected scheme://host[:port] without a path, got `{value}`"),
        ));
    }
    Ok(value)
}
