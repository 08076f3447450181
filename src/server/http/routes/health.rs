use std::time::Duration;

use axum::{extract::State, Json};
use serde_json::{json, Value};

use crate::server::{
    http::{error::ApiError, state::AppState},
    platform::telemetry::metrics,
};

/// The longest a readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: answers while the process can serve HTTP at all.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: 200 only when the database answers in time and the server
/// is not shutting down.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let result = check_ready(&state).await;
    metrics::ready(result.is_ok());
    result
}

async fn check_ready(state: &AppState) -> Result<Json<Value>, ApiError> {
    if state.draining.is_draining() {
        return Err(ApiError::unavailable("The server is shutting down.")
            .with_detail("readiness: draining before shutdown"));
    }
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(err)) => Err(ApiError::unavailable("The database is not answering.")
            .with_detail(format!("readiness ping failed: {err}"))),
        Err(_) => Err(ApiError::unavailable("The database is not answering.")
            .with_detail("readiness ping timed out")),
    }
}
