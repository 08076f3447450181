//! A service that trusts Portcullis: a small axum app whose routes check
//! Portcullis's access tokens locally with `portcullis-verify`.
//!
//! ```text
//! PORTCULLIS_URL=http://127.0.0.1:3000 cargo run --example downstream
//! ```
//!
//! - `GET /` is open to everyone;
//! - `GET /me` needs an access token (bearer header or the shared access
//!   cookie) and answers with who the caller is;
//! - `GET /admin` needs the `admin` role;
//! - `GET /gate` is for requests that came through forward-auth (nginx
//!   `auth_request`): it believes the `X-Auth-Request-Email` header only
//!   with a valid `X-Portcullis-Assertion` for `DOWNSTREAM_HOST`.
//!
//! Settings: `PORTCULLIS_URL` (the issuer), `PORTCULLIS_AUDIENCE`
//! (default `portcullis`), `PORTCULLIS_JWKS_URL` (default the issuer's
//! `/.well-known/jwks.json`), `PORTCULLIS_ACCESS_COOKIE` (only without
//! TLS: `portcullis_access`), `DOWNSTREAM_HOST` (this service's host name
//! as the gateway sees it), `DOWNSTREAM_ADDR` (default 127.0.0.1:4000).

use axum::{
    extract::FromRef,
    http::HeaderMap,
    response::{Html, IntoResponse, Json},
    routing::get,
    Router,
};
use portcullis_verify::{
    axum::{Asserted, Authenticated, RequireRole, Role},
    Verifier,
};
use serde_json::json;

#[derive(Clone, FromRef)]
pub struct Downstream {
    pub verifier: Verifier,
}

pub struct Admin;

impl Role for Admin {
    const NAME: &'static str = "admin";
}

pub fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/", get(|| async { "Anyone may read this." }))
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/gate", get(gate))
        .with_state(Downstream { verifier })
}

async fn me(Authenticated(claims): Authenticated) -> impl IntoResponse {
    Json(json!({
        "user": claims.sub,
        "email": claims.email,
        "roles": claims.roles,
    }))
}

async fn admin(RequireRole(claims, _): RequireRole<Admin>) -> impl IntoResponse {
    format!("Hello, administrator {}.", claims.email)
}

/// The identity headers forward-auth set, believed because the assertion
/// beside them holds.
async fn gate(Asserted(assertion): Asserted, headers: HeaderMap) -> impl IntoResponse {
    let email = headers
        .get("x-auth-request-email")
        .and_then(|v| v.to_str().ok())
        .filter(|email| *email == assertion.email)
        .unwrap_or("someone");
    Html(format!(
        "<!doctype html><title>Downstream</title>\
         <p>Signed in as <strong id=\"email\">{}</strong></p>",
        escape(email)
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setting =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let issuer = setting("PORTCULLIS_URL", "http://127.0.0.1:3000");
    let jwks = setting(
        "PORTCULLIS_JWKS_URL",
        &format!("{issuer}/.well-known/jwks.json"),
    );
    let audience = setting("PORTCULLIS_AUDIENCE", "portcullis");
    let host = setting("DOWNSTREAM_HOST", "127.0.0.1");
    // Portcullis may still be starting: wait for its keys a little.
    let mut tries = 0;
    let verifier = loop {
        match Verifier::from_jwks_url(issuer.as_str(), audience.as_str(), jwks.as_str()).await {
            Ok(verifier) => break verifier.expecting_assertions_for(host),
            Err(_) if tries < 60 => tries += 1,
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let listener =
        tokio::net::TcpListener::bind(setting("DOWNSTREAM_ADDR", "127.0.0.1:4000")).await?;
    println!("downstream listening on {}", listener.local_addr()?);
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}
