use std::time::Duration;

use axum::{extract::State, Json};
use serde_json::{json, Value};

use crate::server::http::{error::ApiError, state::AppState};

/// The longest a readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: answers while the process can serve HTTP at all.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: 200 only when the database answers in time.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(err)) => Err(ApiError::unavailable("The database is not answering.")
            .with_detail(format!("readiness ping failed: {err}"))),
        Err(_) => Err(ApiError::unavailable("The database is not answering.")
            .with_detail("readiness ping timed out")),
    }
}
