//! The admin JSON API, under /api/admin: 401 when not signed in, 403
//! `{"error":"forbidden"}` without the permission (checked by the
//! services, in one place). A person's own API key acts for them here only
//! with the endpoint's permission among its scopes; other machines never.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    path_id,
    security::{json_no_store, no_store},
};
use crate::{
    model::{AdminUserChange, ErrorCode, RoleDefinition},
    server::{
        domain::client::ClientInfo,
        http::{error::ApiError, extract::Presenting, json::ApiJson, state::AppState},
        services::admin::AuditQuery,
    },
};

type Params = Query<HashMap<String, String>>;

fn limit(params: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    params
        .get("limit")
        .map(|l| l.parse::<i64>())
        .transpose()
        .map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidQuery, "`limit` must be a whole number.")
        })
}

pub async fn list_users(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let page = state
        .services(&client)
        .admin_list_users(
            &principal,
            params.get("q").map(String::as_str).unwrap_or_default(),
            params
                .get("cursor")
                .map(String::as_str)
                .filter(|c| !c.is_empty()),
            limit(&params)?,
        )
        .await?;
    json_no_store(&state, page)
}

pub async fn get_user(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state
        .services(&client)
        .admin_user(&principal, path_id(&id)?)
        .await?;
    json_no_store(&state, user)
}

pub async fn update_user(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<AdminUserChange>,
) -> Result<Response, ApiError> {
    let user = state
        .services(&client)
        .admin_update_user(&principal, path_id(&id)?, &change)
        .await?;
    json_no_store(&state, user)
}

pub async fn sign_out_user(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ended = state
        .services(&client)
        .admin_sign_out_user(&principal, path_id(&id)?)
        .await?;
    json_no_store(&state, json!({ "sessions_revoked": ended }))
}

pub async fn delete_user(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .services(&client)
        .admin_delete_user(&principal, path_id(&id)?)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}

pub async fn audit(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Query(params): Params,
) -> Result<Response, ApiError> {
    // Search and filter terms are the services' to judge; an id is ours.
    let user = match params.get("user").filter(|v| !v.is_empty()) {
        Some(id) => Some(Uuid::parse_str(id).map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidQuery, "`user` must be a user id.")
        })?),
        None => None,
    };
    let query = AuditQuery {
        user_id: user,
        event_type: params.get("type").map(String::as_str),
        outcome: params.get("outcome").map(String::as_str),
        cursor: params
            .get("cursor")
            .map(String::as_str)
            .filter(|c| !c.is_empty()),
        limit: limit(&params)?,
    };
    let page = state
        .services(&client)
        .admin_audit(&principal, query)
        .await?;
    json_no_store(&state, page)
}

pub async fn roles(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
) -> Result<Response, ApiError> {
    let roles = state.services(&client).admin_roles(&principal).await?;
    json_no_store(&state, roles)
}

pub async fn create_role(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    ApiJson(definition): ApiJson<RoleDefinition>,
) -> Result<Response, ApiError> {
    let role = state
        .services(&client)
        .admin_create_role(&principal, &definition)
        .await?;
    let mut response = json_no_store(&state, role)?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub async fn update_role(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Path(name): Path<String>,
    ApiJson(definition): ApiJson<RoleDefinition>,
) -> Result<Response, ApiError> {
    let role = state
        .services(&client)
        .admin_update_role(&principal, &name, &definition)
        .await?;
    json_no_store(&state, role)
}

pub async fn delete_role(
    State(state): State<AppState>,
    client: ClientInfo,
    Presenting(principal): Presenting,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    state
        .services(&client)
        .admin_delete_role(&principal, &name)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}
