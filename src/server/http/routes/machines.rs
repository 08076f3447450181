//! Machine identities over JSON: a person's own API keys (under
//! /api/auth, people only), service accounts and agents (/api/agents, and
//! the seed's /agent/* paths), and the server-to-server user lookup
//! (/api/users) that keys and machine tokens may call.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    oauth::token_response,
    path_id,
    security::{json_no_store, no_store},
};
use crate::{
    model::{AgentChange, AgentPermissionsChange, ErrorCode, NewApiKey, RegisterAgent},
    server::{
        domain::client::ClientInfo,
        http::{
            error::ApiError,
            extract::{presented_key, CurrentUser, Presenting},
            json::{ApiJson, OptionalJson},
            state::AppState,
        },
        platform::telemetry::metrics::{self, Grant, TokenOutcome},
        services::machines::{user_lookup::UserKey, Caller},
    },
};

async fn caller(
    state: &AppState,
    client: &ClientInfo,
    presenting: &Presenting,
) -> Result<Caller, ApiError> {
    Ok(state.services(client).caller(&presenting.0).await?)
}

/// 201 with `body`, never cached: it holds a key shown this once.
fn created(state: &AppState, body: impl Serialize) -> Result<Response, ApiError> {
    no_store(state, (StatusCode::CREATED, Json(body)).into_response())
}

// --- a person's own keys -------------------------------------------------

pub async fn create_api_key(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<Response, ApiError> {
    let made = state
        .services(&client)
        .create_api_key(&principal, &body)
        .await?;
    created(&state, made)
}

pub async fn api_keys(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let keys = state.services(&client).api_keys(&principal).await?;
    json_no_store(&state, keys)
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .services(&client)
        .revoke_api_key(&principal, path_id(&id)?)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}

// --- service accounts and agents ----------------------------------------

pub async fn register_agent(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    ApiJson(body): ApiJson<RegisterAgent>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let registered = state
        .services(&client)
        .register_agent(&caller, &body)
        .await?;
    created(&state, registered)
}

pub async fn agents(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let list = state.services(&client).agents(&caller, false).await?;
    json_no_store(&state, list)
}

pub async fn agent(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let agent = state
        .services(&client)
        .agent(&caller, path_id(&id)?)
        .await?;
    json_no_store(&state, agent)
}

pub async fn change_agent(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AgentChange>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let agent = state
        .services(&client)
        .change_agent(&caller, path_id(&id)?, &body)
        .await?;
    json_no_store(&state, agent)
}

pub async fn delete_agent(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    state
        .services(&client)
        .delete_agent(&caller, path_id(&id)?)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}

pub async fn agent_permissions(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let permissions = state
        .services(&client)
        .agent_permissions(&caller, path_id(&id)?)
        .await?;
    json_no_store(&state, permissions)
}

pub async fn set_agent_permissions(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AgentPermissionsChange>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let permissions = state
        .services(&client)
        .set_agent_permissions(&caller, path_id(&id)?, &body.permissions)
        .await?;
    json_no_store(&state, permissions)
}

pub async fn create_agent_key(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<NewApiKey>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let made = state
        .services(&client)
        .create_agent_key(&caller, path_id(&id)?, &body.unwrap_or_default())
        .await?;
    created(&state, made)
}

pub async fn revoke_agent_key(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    state
        .services(&client)
        .revoke_agent_key(&caller, path_id(&id)?, path_id(&key_id)?)
        .await?;
    no_store(&state, StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTokenBody {
    scope: Option<String>,
    resource: Option<String>,
}

/// `POST /api/agents/token`: the key in `Authorization: Bearer` or
/// `X-API-Key` for a short-lived access token.
pub async fn agent_token(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<AgentTokenBody>,
) -> Result<Response, ApiError> {
    let Some(Some(key)) = presented_key(&headers) else {
        return Err(ApiError::unauthenticated());
    };
    let body = body.unwrap_or_default();
    let issued = state
        .services(&client)
        .agent_token(&key, body.scope.as_deref(), body.resource.as_deref())
        .await;
    match issued {
        Ok(issued) => {
            metrics::machine_token(Grant::ClientCredentials, TokenOutcome::Issued);
            Ok(token_response(&issued))
        }
        Err(err) => {
            metrics::machine_token(Grant::ClientCredentials, err.outcome());
            Err(super::oauth::as_api_error(err))
        }
    }
}

// --- the seed's paths ------------------------------------------------------

/// `GET /agent/permissions?id=…`; without `id`, the calling agent's own.
pub async fn compat_permissions(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let id = match (params.get("id"), &caller) {
        (Some(id), _) => path_id(id)?,
        (None, Caller::Machine(machine)) => machine.account_id().ok_or_else(ApiError::not_found)?,
        (None, Caller::Person { .. }) => return Err(missing_id()),
    };
    let permissions = state
        .services(&client)
        .agent_permissions(&caller, id)
        .await?;
    json_no_store(&state, permissions)
}

/// `PUT /agent/permissions?id=…`.
pub async fn compat_set_permissions(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    Query(params): Query<HashMap<String, String>>,
    ApiJson(body): ApiJson<AgentPermissionsChange>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let id = path_id(params.get("id").ok_or_else(missing_id)?)?;
    let permissions = state
        .services(&client)
        .set_agent_permissions(&caller, id, &body.permissions)
        .await?;
    json_no_store(&state, permissions)
}

fn missing_id() -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidQuery, "Name the agent: `?id=…`.")
}

// --- user lookup -------------------------------------------------------------

/// How long a caller may keep a user: the seed caches for 5 to 15 minutes.
const LOOKUP_CACHE: &str = "private, max-age=300";

pub async fn user_by_id(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    // Checked before the id, so a caller without the scope learns nothing.
    if !caller.allows(crate::model::Permission::UsersRead) {
        return Err(ApiError::forbidden());
    }
    let user = state
        .services(&client)
        .look_up_user(&caller, UserKey::Id(path_id(&id)?))
        .await?;
    cacheable(&headers, &user)
}

pub async fn user_by_email(
    State(state): State<AppState>,
    client: ClientInfo,
    presenting: Presenting,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &client, &presenting).await?;
    let email = match (params.get("email"), params.len()) {
        (Some(email), 1) => email,
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "Look a user up by `/api/users/{id}` or `/api/users?email=…`.",
            ))
        }
    };
    let user = state
        .services(&client)
        .look_up_user(&caller, UserKey::Email(email))
        .await?;
    cacheable(&headers, &user)
}

/// `body` with a strong `ETag` (a hash of the JSON) and a private max-age;
/// 304 without a body when the caller's copy is current.
fn cacheable(request: &HeaderMap, body: &impl Serialize) -> Result<Response, ApiError> {
    let json = serde_json::to_vec(body).map_err(ApiError::internal)?;
    let digest = Sha256::digest(&json);
    let tag = format!(
        "\"{}\"",
        digest
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*");
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(LOOKUP_CACHE),
    );
    // One caller's copy is not another's: the answer depends on the key.
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Authorization, X-API-Key"),
    );
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    Ok(response)
}
