//! The user's sessions and security activity, under /api/auth.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use crate::{
    model::{ActivityResponse, SessionsResponse},
    server::{
        domain::client::ClientInfo,
        http::{effects::SessionEffects, error::ApiError, extract::CurrentUser, state::AppState},
    },
};

/// `response`, never cached.
pub(super) fn no_store(state: &AppState, mut response: Response) -> Result<Response, ApiError> {
    SessionEffects::no_store().apply(state, response.headers_mut())?;
    Ok(response)
}

pub(super) fn json_no_store(state: &AppState, body: impl Serialize) -> Result<Response, ApiError> {
    no_store(state, Json(body).into_response())
}

pub async fn sessions(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let sessions = state.services(&client).sessions(&principal).await?;
    json_no_store(&state, SessionsResponse { sessions })
}

pub async fn revoke_session(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = super::path_id(&id)?;
    state
        .services(&client)
        .revoke_session(&principal, id)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}

pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    state
        .services(&client)
        .revoke_other_sessions(&principal)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}

pub async fn activity(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let activity = state.services(&client).activity(&principal).await?;
    json_no_store(&state, ActivityResponse { activity })
}
