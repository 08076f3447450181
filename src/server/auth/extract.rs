//! Extractors: who is calling (`CurrentUser`) and from where (`ClientInfo`).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap, StatusCode},
};

use super::tokens::Principal;
use crate::server::{audit::ClientInfo, error::ApiError, state::AppState};

const USER_AGENT_MAX: usize = 512;

/// The bearer of a valid access token, from `Authorization: Bearer` or the
/// access cookie. Checked locally: no database round trip.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Principal);

/// Every failure is this same 401.
pub fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Sign in to continue.",
    )
}

/// The token from `Authorization: Bearer <token>`, if that is the scheme.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub fn principal_from_headers(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let token = match bearer_token(headers) {
        Some(t) => t.to_owned(),
        None => state.auth.cookies.read_access(headers)?,
    };
    state.auth.tokens.verify(&token, state.clock.now()).ok()
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        principal_from_headers(state, &parts.headers)
            .map(CurrentUser)
            .ok_or_else(unauthenticated)
    }
}

pub fn client_info(parts: &Parts) -> ClientInfo {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(USER_AGENT_MAX).collect());
    ClientInfo { ip, user_agent }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(client_info(parts))
    }
}
