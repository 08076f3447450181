//! Signing up, in and out, and refreshing, under /api/auth. Handlers
//! translate HTTP to calls of the services and back.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use crate::{
    model::{BearerTokens, SessionResponse, User, UserResponse},
    server::{
        domain::client::ClientInfo,
        http::{
            effects::SessionEffects,
            error::ApiError,
            extract::{access_token_session, principal_from_headers},
            json::{ApiJson, OptionalJson},
            state::AppState,
        },
        services::{Issued, LoginOutcome, ServiceError},
    },
};

/// Where a client wants its tokens: in cookies (browsers) or in the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Cookie,
    Bearer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    email: String,
    password: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    transport: Transport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: Option<String>,
    #[serde(default)]
    transport: Transport,
}

/// The body and cookies of a freshly issued session, per transport.
fn session_response(
    state: &AppState,
    issued: Issued,
    transport: Transport,
    with_user: bool,
) -> Result<Response, ApiError> {
    let mut body = SessionResponse {
        session: issued.session_info(),
        user: with_user.then(|| User::from(&issued.user)),
        tokens: None,
    };
    let effects = match transport {
        Transport::Cookie => SessionEffects::signed_in(&issued.tokens, issued.device.as_deref()),
        Transport::Bearer => {
            body.tokens = Some(BearerTokens {
                access_token: issued.tokens.access_token.clone(),
                refresh_token: issued.tokens.refresh_token.expose().to_owned(),
                token_type: "Bearer".to_owned(),
                expires_in: issued.tokens.access_expires_in_secs(state.clock.now()),
            });
            SessionEffects::no_store()
        }
    };
    let mut response = Json(body).into_response();
    effects.apply(state, response.headers_mut())?;
    Ok(response)
}

pub async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Response, ApiError> {
    let issued = state
        .services(&client)
        .signup(&body.email, &body.password, body.display_name.as_deref())
        .await?;
    let user = User::from(&issued.user);
    let mut response = (StatusCode::CREATED, Json(UserResponse { user })).into_response();
    SessionEffects::signed_in(&issued.tokens, issued.device.as_deref())
        .apply(&state, response.headers_mut())?;
    Ok(response)
}

pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let device = state.credentials.cookies.read_device(&headers);
    let outcome = state
        .services(&client)
        .login(&body.email, &body.password, device.as_deref())
        .await?;
    let LoginOutcome::SignedIn(issued) = outcome;
    session_response(&state, issued, body.transport, true)
}

pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshBody>,
) -> Result<Response, Response> {
    let (transport, raw) = match body {
        Some(RefreshBody {
            transport: Transport::Bearer,
            refresh_token,
        }) => (Transport::Bearer, refresh_token),
        Some(RefreshBody {
            refresh_token: Some(t),
            ..
        }) => (Transport::Cookie, Some(t)),
        _ => (
            Transport::Cookie,
            state.credentials.cookies.read_refresh(&headers),
        ),
    };
    let continues = access_token_session(&state, &headers);
    let result = match raw {
        Some(raw) => state.services(&client).refresh(&raw, continues).await,
        None => Err(ServiceError::Unauthenticated),
    };
    match result {
        Ok(issued) => {
            session_response(&state, issued, transport, false).map_err(IntoResponse::into_response)
        }
        Err(err) => {
            let mut response = ApiError::from(err).into_response();
            let effects = if response.status() == StatusCode::UNAUTHORIZED {
                SessionEffects::clear()
            } else {
                SessionEffects::no_store()
            };
            match effects.apply(&state, response.headers_mut()) {
                Ok(()) => Err(response),
                Err(broken) => Err(ApiError::from(broken).into_response()),
            }
        }
    }
}

/// Ends the session of the refresh token in the body, else of the refresh
/// cookie, else of the access token. With none of them valid, 401: the
/// client learns its sign-out did not happen. The cookies go either way.
pub async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<LogoutBody>,
) -> Result<Response, Response> {
    let raw = body
        .and_then(|b| b.refresh_token)
        .or_else(|| state.credentials.cookies.read_refresh(&headers));
    let principal = principal_from_headers(&state, &headers);
    let mut response = match state
        .services(&client)
        .logout(raw.as_deref(), principal.as_ref())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => ApiError::from(err).into_response(),
    };
    match SessionEffects::sign_out().apply(&state, response.headers_mut()) {
        Ok(()) if response.status().is_success() => Ok(response),
        Ok(()) => Err(response),
        Err(broken) => Err(ApiError::from(broken).into_response()),
    }
}
