//! Forward-auth for the proxies in front of other services: each contract
//! reads the held request its own way, then one decision
//! (`services::forward_auth`) answers. The forwarded headers are believed
//! only from `PORTCULLIS_TRUSTED_PROXIES`; the caller's session comes from
//! the access cookie or a bearer token, never from a body.
//!
//! - `GET /api/authz/auth-request`: nginx `auth_request`, ingress-nginx
//!   `auth-url` (`X-Original-Method`, `X-Original-URL`).
//! - `GET /api/authz/forward-auth`: Traefik ForwardAuth, Caddy
//!   `forward_auth` (`X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`).
//! - any method on `/api/authz/envoy/<original path>`: Envoy `ext_authz`
//!   in HTTP mode with `path_prefix: /api/authz/envoy` (the original host
//!   in `Host`, the scheme in `X-Forwarded-Proto`).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use url::Url;

use crate::{
    model::ErrorCode,
    server::{
        credentials::{assertions::Vouched, tokens::TokenError},
        domain::{
            access_rules::Requirement, client::ClientInfo, grants::Attributes,
            machines::MachinePrincipal,
        },
        http::{
            error::ApiError,
            extract::gate_credentials,
            gate_passes::{Holder, PassHeaders},
            state::AppState,
        },
        platform::telemetry::metrics::{self, Gate},
        services::{
            forward_auth::{HeldRequest, Passer, Verdict},
            machines::Machine,
        },
    },
    validate::query_value,
};

/// Where Envoy's `path_prefix` points; the original path follows it.
pub const ENVOY_PREFIX: &str = "/api/authz/envoy";

/// Which proxy asks, which decides how the held request is read and how
/// a visitor who must sign in is sent there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contract {
    /// nginx cannot redirect from an auth subrequest: it gets 401 with the
    /// sign-in URL in `Location`, for `error_page 401` to send on.
    Nginx,
    /// Traefik, Caddy and Envoy pass the answer to the browser as it is:
    /// a browser gets a 302 to the sign-in page.
    PassThrough,
}

// Each takes the request whole (its body is never read): extracting
// `Parts` would copy every header.

pub async fn auth_request(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let held = held_by_nginx(&parts.headers);
    decide(&state, &parts, Contract::Nginx, held).await
}

pub async fn forward_auth(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let held = held_by_traefik(&parts.headers);
    decide(&state, &parts, Contract::PassThrough, held).await
}

pub async fn envoy(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let held = held_by_envoy(&parts);
    decide(&state, &parts, Contract::PassThrough, held).await
}

/// `X-Original-Method` and `X-Original-URL` (a whole URL).
fn held_by_nginx(headers: &HeaderMap) -> Option<HeldRequest> {
    let method = method_of(text(headers, "x-original-method")?)?;
    let url = Url::parse(text(headers, "x-original-url")?).ok()?;
    held(method, url)
}

/// `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri` (path and query).
fn held_by_traefik(headers: &HeaderMap) -> Option<HeldRequest> {
    let method = method_of(text(headers, "x-forwarded-method")?)?;
    let proto = text(headers, "x-forwarded-proto")?;
    let host = text(headers, "x-forwarded-host")?;
    let uri = text(headers, "x-forwarded-uri")?;
    held(method, assemble(proto, host, uri)?)
}

/// The request itself, its path under [`ENVOY_PREFIX`].
fn held_by_envoy(parts: &Parts) -> Option<HeldRequest> {
    let path = parts.uri.path().strip_prefix(ENVOY_PREFIX)?;
    let path = if path.is_empty() { "/" } else { path };
    let uri = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let proto = text(&parts.headers, "x-forwarded-proto").unwrap_or("http");
    // HTTP/2 carries the host in the request's authority, not in `Host`.
    let host = text(&parts.headers, header::HOST.as_str())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    held(parts.method.clone(), assemble(proto, host, &uri)?)
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn method_of(text: &str) -> Option<Method> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes()).ok()
}

/// A URL from its parts; the URI must be a path, not a URL of its own.
fn assemble(proto: &str, host: &str, uri: &str) -> Option<Url> {
    let scheme_ok = proto.eq_ignore_ascii_case("http") || proto.eq_ignore_ascii_case("https");
    let host_ok = !host.contains(['/', '\\', '@', '?', '#']);
    if !scheme_ok || !host_ok || !uri.starts_with('/') || uri.starts_with("//") {
        return None;
    }
    Url::parse(&format!("{}://{host}{uri}", proto.to_ascii_lowercase())).ok()
}

/// Only web requests, to a host with a name DNS could hold.
fn held(method: Method, url: Url) -> Option<HeldRequest> {
    let web = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| host.len() <= 253);
    web.then_some(HeldRequest { method, url })
}

/// `?role=NAME` and `?permission=NAME` on the auth URL, each any number
/// of times, all required. Anything else there is refused: a misspelt
/// parameter must not quietly protect less.
fn extra_requirements(query: Option<&str>) -> Result<Vec<Requirement>, ApiError> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| {
            let need = match name.as_ref() {
                "role" => Requirement::parse(&format!("role:{value}")),
                "permission" => Requirement::parse(&format!("permission:{value}")),
                _ => None,
            };
            need.ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    "The auth URL takes only `role` and `permission`, each naming one.",
                )
                .with_detail(format!("forward-auth query parameter `{name}`"))
            })
        })
        .collect()
}

async fn decide(
    state: &AppState,
    parts: &Parts,
    contract: Contract,
    held: Option<HeldRequest>,
) -> Response {
    let (outcome, response) = answer(state, parts, contract, held).await;
    metrics::forward_auth(outcome);
    response
}

async fn answer(
    state: &AppState,
    parts: &Parts,
    contract: Contract,
    held: Option<HeldRequest>,
) -> (Gate, Response) {
    // Envoy's query is the held request's own, not requirements.
    let extra = if parts.uri.path().starts_with(ENVOY_PREFIX) {
        Vec::new()
    } else {
        match extra_requirements(parts.uri.query()) {
            Ok(extra) => extra,
            Err(refused) => return (Gate::BadRequest, refused.into_response()),
        }
    };
    let trusted = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| {
            let ip = peer.ip().to_canonical();
            state.trusted_proxies.iter().any(|net| net.contains(&ip))
        });
    let Some(held) = held.filter(|_| trusted) else {
        let refused = ApiError::bad_request(
            ErrorCode::InvalidForwardedRequest,
            "The proxy's description of the request is missing or not believed.",
        )
        .with_detail(if trusted {
            "forward-auth: forwarded headers missing or malformed"
        } else {
            "forward-auth: asked by a peer not in PORTCULLIS_TRUSTED_PROXIES"
        });
        return (Gate::BadRequest, refused.into_response());
    };
    let client = ClientInfo::default();
    let services = state.services(&client);
    let now = services.now;
    // A malformed key is no credential; the cookie may still be.
    let (machine, principal) = gate_credentials(state, &parts.headers, now);
    let verdict = services
        .forward_auth(principal, machine, &held, &extra)
        .await;
    match verdict {
        Ok(Verdict::Allow(passer)) => (Gate::Allowed, allowed(state, &held, passer.as_ref(), now)),
        Ok(Verdict::SignIn { return_to }) => (
            Gate::Unauthenticated,
            sign_in(state, contract, &parts.headers, return_to.as_deref()),
        ),
        Ok(Verdict::Deny) => (Gate::Forbidden, ApiError::forbidden().into_response()),
        Err(err) => (Gate::Error, ApiError::from(err).into_response()),
    }
}

/// What header values keep as they are: printable ASCII but `%`; the rest
/// (non-ASCII above all) is percent-encoded UTF-8.
const HEADER_TEXT: &AsciiSet = &CONTROLS.add(b'%');

fn header_text(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&utf8_percent_encode(value, HEADER_TEXT).to_string()).ok()
}

/// 200, with who passed in the headers proxies copy to the service.
fn allowed(
    state: &AppState,
    held: &HeldRequest,
    passer: Option<&Passer>,
    now: DateTime<Utc>,
) -> Response {
    let mut response = StatusCode::OK.into_response();
    let Some(passer) = passer else {
        return response;
    };
    let holder = match passer {
        Passer::Person { principal, user } => Holder {
            session_id: principal.session_id,
            authz_version: principal.authz_version,
            email: &user.email,
        },
        // What a machine's headers say never changes while its key lives.
        Passer::Machine(machine) => Holder {
            session_id: machine.key_id.unwrap_or_else(|| machine.principal.id()),
            authz_version: 0,
            email: "",
        },
    };
    let host = held.host().unwrap_or_default();
    let pass = state
        .passes
        .get_or_make(holder, host, now, || pass_headers(state, passer, host, now));
    match pass {
        Ok(pass) => {
            let headers = response.headers_mut();
            for (name, value) in pass.iter() {
                headers.insert(name, value.clone());
            }
            response
        }
        Err(err) => ApiError::internal(err).into_response(),
    }
}

/// The identity headers and the assertion for `passer` at `host`, and
/// when the assertion runs out.
fn pass_headers(
    state: &AppState,
    passer: &Passer,
    host: &str,
    now: DateTime<Utc>,
) -> Result<(PassHeaders, DateTime<Utc>), TokenError> {
    let (principal, user) = match passer {
        Passer::Person { principal, user } => (principal, &**user),
        Passer::Machine(machine) => return machine_headers(state, machine, host, now),
    };
    let mut headers = Vec::new();
    let id = HeaderValue::from_str(&principal.user_id.to_string()).ok();
    let email = header_text(&user.email);
    let groups = header_text(&principal.roles.join(","));
    for (names, value) in [
        (["x-auth-request-user", "remote-user"], id),
        (["x-auth-request-email", "remote-email"], email),
        (["x-auth-request-groups", "remote-groups"], groups),
    ] {
        if let Some(value) = value {
            for name in names {
                headers.push((HeaderName::from_static(name), value.clone()));
            }
        }
    }
    for (key, value) in &user.attributes.0 {
        let name = HeaderName::from_bytes(format!("x-auth-request-attr-{key}").as_bytes());
        if let (Ok(name), Some(value)) = (name, header_text(value)) {
            headers.push((name, value));
        }
    }
    let vouched = Vouched {
        user_id: principal.user_id,
        email: &user.email,
        roles: &principal.roles,
        attributes: &user.attributes.0,
    };
    let assertion = state.credentials.assertions.vouch(&vouched, host, now)?;
    // Base64url and dots: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&assertion.token) {
        headers.push((HeaderName::from_static("x-portcullis-assertion"), value));
    }
    Ok((headers.into(), assertion.expires_at))
}

/// A machine's headers: its id (a personal key's: its user's, with their
/// email), no groups (a machine holds no role), its kind, and the
/// assertion.
fn machine_headers(
    state: &AppState,
    machine: &Machine,
    host: &str,
    now: DateTime<Utc>,
) -> Result<(PassHeaders, DateTime<Utc>), TokenError> {
    let (id, email, kind) = match &machine.principal {
        MachinePrincipal::Person { user_id, email } => (*user_id, email.as_str(), "user"),
        MachinePrincipal::Account { id, kind, .. } => (*id, "", kind.as_str()),
    };
    let mut headers = Vec::new();
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        for name in ["x-auth-request-user", "remote-user"] {
            headers.push((HeaderName::from_static(name), value.clone()));
        }
    }
    if let Some(value) = header_text(email).filter(|_| !email.is_empty()) {
        for name in ["x-auth-request-email", "remote-email"] {
            headers.push((HeaderName::from_static(name), value.clone()));
        }
    }
    headers.push((
        HeaderName::from_static("x-auth-request-principal"),
        HeaderValue::from_static(kind),
    ));
    let vouched = Vouched {
        user_id: id,
        email,
        roles: &[],
        attributes: &Attributes::new(),
    };
    let assertion = state.credentials.assertions.vouch(&vouched, host, now)?;
    if let Ok(value) = HeaderValue::from_str(&assertion.token) {
        headers.push((HeaderName::from_static("x-portcullis-assertion"), value));
    }
    Ok((headers.into(), assertion.expires_at))
}

/// Not signed in: 401, and the way to the sign-in page (with the way back).
fn sign_in(
    state: &AppState,
    contract: Contract,
    headers: &HeaderMap,
    return_to: Option<&str>,
) -> Response {
    let login = match return_to {
        Some(target) => format!("{}/login?rd={}", state.public_origin, query_value(target)),
        None => format!("{}/login", state.public_origin),
    };
    let Ok(location) = HeaderValue::from_str(&login) else {
        return ApiError::unauthenticated().into_response();
    };
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let mut response = if contract == Contract::PassThrough && browser {
        StatusCode::FOUND.into_response()
    } else {
        ApiError::unauthenticated().into_response()
    };
    response.headers_mut().insert(header::LOCATION, location);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_requests_are_read_per_contract() {
        let mut nginx = HeaderMap::new();
        nginx.insert("x-original-method", "post".parse().unwrap());
        nginx.insert(
            "x-original-url",
            "https://App.Example.com/a/b?c=d".parse().unwrap(),
        );
        let held = held_by_nginx(&nginx).unwrap();
        assert_eq!(held.method, Method::POST);
        assert_eq!(held.url.as_str(), "https://app.example.com/a/b?c=d");

        let mut traefik = HeaderMap::new();
        for (name, value) in [
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com:8443"),
            ("x-forwarded-uri", "/x?y=1"),
        ] {
            traefik.insert(name, value.parse().unwrap());
        }
        let held = held_by_traefik(&traefik).unwrap();
        assert_eq!(held.url.as_str(), "https://app.example.com:8443/x?y=1");
    }

    #[test]
    fn held_requests_that_say_two_things_are_refused() {
        for (host, uri) in [
            ("evil.com/x", "/"),
            ("app.example.com@evil.com", "/"),
            ("app.example.com", "//evil.com/"),
            ("app.example.com", "https://evil.com/"),
            ("app.example.com", "x"),
        ] {
            let mut headers = HeaderMap::new();
            for (name, value) in [
                ("x-forwarded-method", "GET"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", host),
                ("x-forwarded-uri", uri),
            ] {
                headers.insert(name, value.parse().unwrap());
            }
            assert!(held_by_traefik(&headers).is_none(), "{host} {uri}");
        }
        let mut other_scheme = HeaderMap::new();
        other_scheme.insert("x-original-method", "GET".parse().unwrap());
        other_scheme.insert("x-original-url", "file:///etc/passwd".parse().unwrap());
        assert!(held_by_nginx(&other_scheme).is_none());
    }

    #[test]
    fn the_auth_url_takes_roles_and_permissions_only() {
        let extra = extra_requirements(Some("role=admin&permission=audit:read")).unwrap();
        assert_eq!(extra.len(), 2);
        for bad in ["rol=admin", "role=Admin", "permission=nope", "role"] {
            assert!(extra_requirements(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_values_keep_ascii_and_encode_the_rest() {
        assert_eq!(header_text("a@b.com").unwrap(), "a@b.com");
        assert_eq!(header_text("Zoë 100%").unwrap(), "Zo%C3%AB 100%25");
    }
}
