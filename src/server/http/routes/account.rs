//! The signed-in user's own account, under /api/auth.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use crate::{
    model::{User, UserResponse},
    server::{
        domain::client::ClientInfo,
        http::{
            effects::SessionEffects, error::ApiError, extract::CurrentUser, json::ApiJson,
            state::AppState,
        },
        services::ProfileChange,
    },
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    display_name: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `{"user": …}`, never cached.
fn user_response(state: &AppState, user: User) -> Result<Response, ApiError> {
    let mut response = Json(UserResponse { user }).into_response();
    SessionEffects::no_store().apply(state, response.headers_mut())?;
    Ok(response)
}

pub async fn me(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let user = state.services(&client).current_user(&principal).await?;
    user_response(&state, User::from(&user))
}

pub async fn update_profile(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Response, ApiError> {
    let change = ProfileChange {
        display_name: body.display_name.as_deref(),
        current_password: body.current_password.as_deref(),
        new_password: body.new_password.as_deref(),
    };
    let user = state
        .services(&client)
        .update_profile(&principal, change)
        .await?;
    user_response(&state, User::from(&user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountBody {
    current_password: String,
}

/// `DELETE /api/auth/account`: the account goes, and this browser is
/// signed out (every cookie of the site dropped).
pub async fn delete_account(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
    ApiJson(body): ApiJson<DeleteAccountBody>,
) -> Result<Response, ApiError> {
    state
        .services(&client)
        .delete_own_account(&principal, &body.current_password)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    SessionEffects::sign_out().apply(&state, response.headers_mut())?;
    Ok(response)
}
