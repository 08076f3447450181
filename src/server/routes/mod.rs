//! JSON and probe endpoints. Pages and server functions are mounted by
//! `startup` through leptos_axum.

mod health;

use axum::{routing::get, Router};

use super::{error::ApiError, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        // Unknown API paths answer in JSON, not with the HTML 404 page.
        .route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
}

async fn api_not_found() -> ApiError {
    ApiError::not_found()
}
