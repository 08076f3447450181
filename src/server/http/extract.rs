//! Extractors: who is calling (`CurrentUser`) and from where (`ClientInfo`).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap},
};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use uuid::Uuid;

use super::{error::ApiError, state::AppState};
use crate::server::{
    credentials::{
        api_keys::PresentedKey,
        tokens::{Principal, Verified},
    },
    domain::client::ClientInfo,
    services::machines::{MachineCredential, Presented},
};

const USER_AGENT_MAX: usize = 512;

/// The bearer of a valid access token, from `Authorization: Bearer` or the
/// access cookie. Checked locally: no database round trip.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Principal);

/// The token from `Authorization: Bearer <token>`, if that is the scheme.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The access token sent: the bearer header, or else the access cookie.
fn access_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    match bearer_token(headers) {
        Some(t) => Some(t.to_owned()),
        None => state.credentials.cookies.read_access(headers),
    }
}

pub fn principal_from_headers(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let token = access_token(state, headers)?;
    state
        .credentials
        .tokens
        .verify(&token, state.clock.now())
        .ok()
}

/// The session of the access token sent along, even if it has lapsed: a
/// refresh must continue that session, not another.
pub fn access_token_session(state: &AppState, headers: &HeaderMap) -> Option<Uuid> {
    let token = access_token(state, headers)?;
    state
        .credentials
        .tokens
        .session_of(&token, state.clock.now())
}

/// The API key a request presents: `X-API-Key`, or a bearer token shaped
/// like a key. `Some(None)`: one is presented, but malformed or mistyped
/// (its checksum fails), so no lookup is needed to refuse it. Never from a
/// cookie: a browser cannot send a key on its own.
pub fn presented_key(headers: &HeaderMap) -> Option<Option<PresentedKey>> {
    let text = match headers.get("x-api-key") {
        Some(value) => value.to_str().map(str::trim).unwrap_or_default(),
        None => bearer_token(headers).filter(|t| PresentedKey::looks_like_one(t))?,
    };
    Some(PresentedKey::parse(text))
}

/// Who forward-auth is asked about, read once: a machine's credential (a
/// well-formed API key, or a bearer token that is a service account's or
/// agent's), and a person's token (the bearer's, or else the access
/// cookie's). The service behind may send an `Authorization` header of its
/// own, so a bearer that fails does not hide the visitor's cookie.
pub fn gate_credentials(
    state: &AppState,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> (Option<MachineCredential>, Option<Principal>) {
    let tokens = &state.credentials.tokens;
    let (mut machine, key_presented) = match presented_key(headers) {
        Some(key) => (key.map(MachineCredential::Key), true),
        None => (None, false),
    };
    let mut person = None;
    match bearer_token(headers).map(|token| tokens.verify_any(token, now)) {
        Some(Ok(Verified::Person(principal))) => person = Some(principal),
        Some(Ok(Verified::Machine(token))) if !key_presented => {
            machine = Some(MachineCredential::Token(token));
        }
        _ => {}
    }
    let person = person.or_else(|| {
        let cookie = state.credentials.cookies.read_access(headers)?;
        tokens.verify(&cookie, now).ok()
    });
    (machine, person)
}

/// What a request to an endpoint machines may call presents: an API key,
/// else a bearer token (a person's or a machine's), else the access cookie.
/// A credential presented and refused is a 401, with no fallback to the
/// next one. Its standing is the service's to check.
#[derive(Debug, Clone)]
pub struct Presenting(pub Presented);

fn presented(state: &AppState, headers: &HeaderMap) -> Option<Presented> {
    let now = state.clock.now();
    if let Some(key) = presented_key(headers) {
        return key.map(|key| Presented::Machine(MachineCredential::Key(key)));
    }
    let tokens = &state.credentials.tokens;
    if let Some(token) = bearer_token(headers) {
        return match tokens.verify_any(token, now).ok()? {
            Verified::Person(principal) => Some(Presented::Person(principal)),
            Verified::Machine(token) => Some(Presented::Machine(MachineCredential::Token(token))),
        };
    }
    let cookie = state.credentials.cookies.read_access(headers)?;
    tokens.verify(&cookie, now).ok().map(Presented::Person)
}

impl FromRequestParts<AppState> for Presenting {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        presented(state, &parts.headers)
            .map(Presenting)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// People only: an API key presented alongside a cookie is refused, not
/// ignored, so a key never seems to work where it does not.
impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if presented_key(&parts.headers).is_some() {
            return Err(ApiError::unauthenticated());
        }
        principal_from_headers(state, &parts.headers)
            .map(CurrentUser)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// The client's address: the socket peer, unless that peer is a trusted
/// proxy. Then `X-Forwarded-For` is read from the right (the entry our own
/// proxy added) leftwards, skipping trusted proxies; the first other address
/// is the client. Entries left of it are the client's to invent, so ignored.
/// Entries may carry a port (`1.2.3.4:5678`, `[2001:db8::1]:443`). An entry
/// that is no address at all makes the client unknown (`None`, one throttle
/// key for all such), never the proxy: its address is everyone's.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Some(ip) = forwarded_address(hop) else {
            tracing::warn!(entry = ?hop, "unreadable X-Forwarded-For entry from a trusted proxy");
            return None;
        };
        client = ip.to_canonical();
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, with or without a port.
fn forwarded_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
}

pub fn client_info(parts: &Parts, trusted_proxies: &[IpNet]) -> ClientInfo {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .and_then(|ConnectInfo(addr)| client_ip(addr.ip(), &parts.headers, trusted_proxies))
        .map(|ip| ip.to_string());
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(USER_AGENT_MAX).collect());
    ClientInfo { ip, user_agent }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(client_info(parts, &state.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let headers = forwarded(&["198.51.100.9"]);
        // An untrusted peer cannot claim another address.
        assert_eq!(
            client_ip(ip("203.0.113.5"), &headers, &trusted),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(
            client_ip(ip("10.1.2.3"), &headers, &[]),
            Some(ip("10.1.2.3"))
        );
        // A trusted one can.
        assert_eq!(
            client_ip(ip("10.1.2.3"), &headers, &trusted),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn forwarded_chains_are_read_from_the_right_past_trusted_hops() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.1");
        // The client prepended a fake address; the real one is the last
        // untrusted hop.
        let headers = forwarded(&["1.1.1.1, 198.51.100.9", "10.0.0.7"]);
        assert_eq!(
            client_ip(peer, &headers, &trusted),
            Some(ip("198.51.100.9"))
        );
        // Only proxies in the chain: the left-most of them.
        let headers = forwarded(&["10.0.0.9, 10.0.0.7"]);
        assert_eq!(client_ip(peer, &headers, &trusted), Some(ip("10.0.0.9")));
        // No header at all.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), Some(peer));
    }

    #[test]
    fn forwarded_entries_with_ports_are_read() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.1");
        for (entry, client) in [
            ("198.51.100.9:5678", "198.51.100.9"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::2", "2001:db8::2"),
            ("10.0.0.7:80, 198.51.100.10:1", "198.51.100.10"),
        ] {
            let headers = forwarded(&[entry]);
            assert_eq!(
                client_ip(peer, &headers, &trusted),
                Some(ip(client)),
                "{entry}"
            );
        }
    }

    #[test]
    fn garbage_forwarded_entries_never_become_the_proxys_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.1");
        for entry in ["198.51.100.9, not-an-ip", "unknown", "1.2.3.4:port", "[::1"] {
            let headers = forwarded(&[entry]);
            assert_eq!(client_ip(peer, &headers, &trusted), None, "{entry}");
        }
    }
}
