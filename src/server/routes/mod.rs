//! JSON and probe endpoints. Pages and server functions are mounted by
//! `startup` through leptos_axum.

mod auth;
mod health;
pub mod json;
mod jwks;

use axum::{
    extract::DefaultBodyLimit,
    routing::{delete, get, post, put},
    Router,
};

use super::{error::ApiError, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/api/auth/signup", post(auth::signup))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/refresh", post(auth::refresh))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/me", get(auth::me))
        .route("/api/auth/profile", put(auth::update_profile))
        .route("/api/auth/sessions", get(auth::sessions))
        .route(
            "/api/auth/sessions/revoke-others",
            post(auth::revoke_other_sessions),
        )
        .route("/api/auth/sessions/{id}", delete(auth::revoke_session))
        .route("/api/auth/activity", get(auth::activity))
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT_BYTES))
        // Unknown API paths answer in JSON, not with the HTML 404 page.
        .route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
}

async fn api_not_found() -> ApiError {
    ApiError::not_found()
}
