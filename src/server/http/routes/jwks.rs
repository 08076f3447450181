use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};

use crate::server::http::state::AppState;

/// The public keys that verify access tokens (RFC 7517). Empty under HS256,
/// whose keys are secret.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.credentials.tokens.jwks().clone()).into_response();
    // Verifiers may cache briefly; rotation publishes a key before using it.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
