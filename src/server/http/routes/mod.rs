//! The JSON API and the probes. Pages and server functions are mounted by
//! `startup` through leptos_axum.

mod account;
mod admin;
pub mod forward_auth;
mod health;
mod jwks;
mod machines;
pub mod metrics;
mod oauth;
mod security;
mod session;

use axum::{
    extract::DefaultBodyLimit,
    routing::{any, delete, get, post, put},
    Router,
};

use tower_http::cors::CorsLayer;

use super::{error::ApiError, json, state::AppState};

/// Whether the handler of `path` reads the session cookies whatever else
/// the request carries: sign-up, sign-in (the device cookie), refresh,
/// sign-out, and every server function of the web app. A bearer header
/// there does not make a request safe from forgery. Keep in step with the
/// routes below.
pub fn reads_session_cookies(path: &str) -> bool {
    path.starts_with("/api/auth/ui/")
        || matches!(
            path,
            "/api/auth/signup" | "/api/auth/login" | "/api/auth/refresh" | "/api/auth/logout"
        )
}

/// The JSON API, with CORS for the allowed origins when there are any.
pub fn router(cors: Option<CorsLayer>) -> Router<AppState> {
    let api = match cors {
        Some(cors) => json_api().layer(cors),
        None => json_api(),
    };
    api
        // Unknown API paths answer in JSON, not with the HTML 404 page.
        .route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
}

/// Forward-auth, mounted outside the CSRF guard and the body limit: it
/// answers proxies about a request they hold, reads no body and changes
/// nothing, so neither can apply, and it is on the path of every request
/// to every protected service. Never CORS either: a CORS layer would
/// answer a held OPTIONS request itself.
pub fn gateway() -> Router<AppState> {
    Router::new()
        .route("/api/authz/auth-request", get(forward_auth::auth_request))
        .route("/api/authz/forward-auth", get(forward_auth::forward_auth))
        .route(forward_auth::ENVOY_PREFIX, any(forward_auth::envoy))
        .route(
            &format!("{}/{{*path}}", forward_auth::ENVOY_PREFIX),
            any(forward_auth::envoy),
        )
}

fn json_api() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/api/auth/signup", post(session::signup))
        .route("/api/auth/login", post(session::login))
        .route("/api/auth/refresh", post(session::refresh))
        .route("/api/auth/logout", post(session::logout))
        .route("/api/auth/me", get(account::me))
        .route("/api/auth/profile", put(account::update_profile))
        .route("/api/auth/account", delete(account::delete_account))
        .route("/api/auth/sessions", get(security::sessions))
        .route(
            "/api/auth/sessions/revoke-others",
            post(security::revoke_other_sessions),
        )
        .route("/api/auth/sessions/{id}", delete(security::revoke_session))
        .route("/api/auth/activity", get(security::activity))
        .route(
            "/api/auth/api-keys",
            get(machines::api_keys).post(machines::create_api_key),
        )
        .route("/api/auth/api-keys/{id}", delete(machines::revoke_api_key))
        .route(
            "/api/agents",
            get(machines::agents).post(machines::register_agent),
        )
        .route("/api/agents/token", post(machines::agent_token))
        .route(
            "/api/agents/{id}",
            get(machines::agent)
                .patch(machines::change_agent)
                .delete(machines::delete_agent),
        )
        .route(
            "/api/agents/{id}/permissions",
            get(machines::agent_permissions).put(machines::set_agent_permissions),
        )
        .route("/api/agents/{id}/keys", post(machines::create_agent_key))
        .route(
            "/api/agents/{id}/keys/{key_id}",
            delete(machines::revoke_agent_key),
        )
        // Seed S2's paths, for clients written against them.
        .route("/agent/register", post(machines::register_agent))
        .route("/agent/token", post(machines::agent_token))
        .route(
            "/agent/permissions",
            get(machines::compat_permissions).put(machines::compat_set_permissions),
        )
        .route("/oauth2/token", post(oauth::token))
        .route("/api/users", get(machines::user_by_email))
        .route("/api/users/{id}", get(machines::user_by_id))
        .route("/api/admin/users", get(admin::list_users))
        .route(
            "/api/admin/users/{id}",
            get(admin::get_user)
                .patch(admin::update_user)
                .delete(admin::delete_user),
        )
        .route("/api/admin/users/{id}/sign-out", post(admin::sign_out_user))
        .route("/api/admin/audit", get(admin::audit))
        .route(
            "/api/admin/roles",
            get(admin::roles).post(admin::create_role),
        )
        .route(
            "/api/admin/roles/{name}",
            put(admin::update_role).delete(admin::delete_role),
        )
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT_BYTES))
}

/// An id in a path. A malformed one is as unknown as a missing one, or
/// someone else's: 404.
fn path_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text).map_err(|_| ApiError::not_found())
}

async fn api_not_found() -> ApiError {
    ApiError::not_found()
}
