//! Cross-site request forgery guard. A state-changing request that a
//! browser could send on its own must come from our own origin. Only a
//! bearer token or an API key that authenticates the request, on a route
//! that reads no cookie, exempts it: a browser never adds either on its
//! own. Origins the
//! operator allowed for CORS count as our own.

use axum::{
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    model::ErrorCode,
    server::http::{
        error::ApiError,
        extract::{bearer_token, presented_key},
        routes::reads_session_cookies,
        state::AppState,
    },
};

/// Refuses a forged request.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // An API key (well-formed: a malformed one is refused before any
    // cookie is read) or any valid access token, a person's or a machine's.
    let bearer_authenticates = !reads_session_cookies(request.uri().path())
        && (presented_key(request.headers()).is_some_and(|key| key.is_some())
            || bearer_token(request.headers()).is_some_and(|token| {
                state
                    .credentials
                    .tokens
                    .verify_any(token, state.clock.now())
                    .is_ok()
            }));
    if is_forged(
        &state.public_origin,
        &state.cors_origins,
        &request,
        bearer_authenticates,
    ) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Csrf,
            "This request did not come from this site.",
        )
        .into_response();
    }
    next.run(request).await
}

/// `bearer_authenticates`: a valid access token in `Authorization`, on a
/// route that reads no cookie; a browser never sends that on its own.
fn is_forged(
    origin: &str,
    cors_origins: &[String],
    request: &Request,
    bearer_authenticates: bool,
) -> bool {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !unsafe_method || bearer_authenticates {
        return false;
    }
    let headers = request.headers();
    let sent_origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if sent_origin.is_some_and(|sent| cors_origins.iter().any(|o| o.eq_ignore_ascii_case(sent))) {
        return false;
    }
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    // Another site, or a sibling subdomain, started this request.
    if matches!(site.as_deref(), Some("cross-site" | "same-site")) {
        return true;
    }
    match headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => false,
        Some(sent) if sent.eq_ignore_ascii_case(origin) => false,
        // Under `Referrer-Policy: no-referrer` a browser's own form post says
        // `Origin: null`; its fetch metadata then tells where it came from.
        Some("null") => site.as_deref() != Some("same-origin"),
        Some(_) => true,
    }
}
