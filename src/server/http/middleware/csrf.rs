//! Cross-site request forgery guard. A state-changing request that a
//! browser could send on its own (anything but a bearer-token call) must
//! come from our own origin.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    model::ErrorCode,
    server::http::{error::ApiError, extract::bearer_token},
};

/// Refuses a forged request; `origin` is the one browsers see for this site.
pub async fn guard(State(origin): State<Arc<str>>, request: Request, next: Next) -> Response {
    if is_forged(&origin, &request) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Csrf,
            "This request did not come from this site.",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_forged(origin: &str, request: &Request) -> bool {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // Bearer tokens are never sent by a browser on its own.
    if !unsafe_method || bearer_token(request.headers()).is_some() {
        return false;
    }
    let headers = request.headers();
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
