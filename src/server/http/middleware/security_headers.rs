//! Security headers: a per-response Content-Security-Policy on pages (its
//! nonce is the one leptos puts on the hydration scripts), and hardening
//! headers on every response.

use axum::{
    http::{header, HeaderValue},
    response::Response,
    Router,
};
use leptos::{nonce::use_nonce, prelude::use_context};
use leptos_axum::ResponseOptions;
use tower_http::set_header::SetResponseHeaderLayer;

/// Two years; browsers then refuse plain HTTP to this host.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Called while a page renders, after leptos made this response's nonce:
/// its Content-Security-Policy, and `no-store`, as a page can show the
/// signed-in user's data and its nonce must not be reused.
pub fn set_page_headers(development: bool) {
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    // `cargo leptos watch` reloads the page over a WebSocket.
    let connect = if development { "'self' ws:" } else { "'self'" };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
    response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Hardening headers on every response, HSTS only when served over TLS.
/// They never vary, so tower-http's header layers set them.
pub fn harden<S>(router: Router<S>, hsts: bool) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let fixed =
        |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    router
        .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(fixed(header::REFERRER_POLICY, "no-referrer"))
        .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &Response| hsts.then_some(HeaderValue::from_static(HSTS)),
        ))
}
