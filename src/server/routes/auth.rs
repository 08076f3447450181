//! The JSON auth API under /api/auth. Handlers translate HTTP to calls of
//! the auth service and back; the rules live in `auth::service`.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;

use super::json::{ApiJson, OptionalJson};
use crate::server::{
    audit::ClientInfo,
    auth::{
        cookies::clear_site_data,
        extract::{principal_from_headers, unauthenticated, CurrentUser},
        service::{AuthError, Issued, ProfileChange},
    },
    error::ApiError,
    state::AppState,
};

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
pub struct RefreshBody {
    refresh_token: Option<String>,
    #[serde(default)]
    transport: Transport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    display_name: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid(v) => ApiError::bad_request(v.code(), v.message()),
            AuthError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this email already exists.",
            ),
            AuthError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is not correct.",
            ),
            AuthError::WrongCurrentPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_credentials",
                "The current password is not correct.",
            ),
            AuthError::Unauthenticated => unauthenticated(),
            AuthError::NotFound => ApiError::not_found(),
            AuthError::Busy => {
                ApiError::unavailable("Too many sign-ins at once. Try again in a moment.")
                    .with_retry_after(1)
            }
            AuthError::Throttled(secs) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("Too many attempts. Try again in {}.", wait_text(secs)),
            )
            .with_retry_after(secs),
            AuthError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

/// "45 seconds", "3 minutes": how long a throttled client should wait.
fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

/// Auth responses must never be cached by a browser or proxy.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn set_session_cookies(state: &AppState, headers: &mut HeaderMap, issued: &Issued) {
    for cookie in state.auth.cookies.for_session(issued, state.clock.now()) {
        headers.append(header::SET_COOKIE, cookie);
    }
}

fn clear_session_cookies(state: &AppState, headers: &mut HeaderMap) {
    for cookie in state.auth.cookies.clear_both() {
        headers.append(header::SET_COOKIE, cookie);
    }
}

/// The body and cookies of a freshly issued session, per transport.
fn session_response(
    state: &AppState,
    issued: Issued,
    transport: Transport,
    with_user: bool,
) -> Response {
    let mut body = json!({ "session": issued.session_info() });
    if with_user {
        body["user"] = json!(issued.user.to_public());
    }
    let response = match transport {
        Transport::Cookie => {
            let mut response = Json(body).into_response();
            set_session_cookies(state, response.headers_mut(), &issued);
            response
        }
        Transport::Bearer => {
            let expires_in = (issued.access_expires_at - state.clock.now())
                .num_seconds()
                .max(0);
            body["access_token"] = json!(issued.access_token);
            body["refresh_token"] = json!(issued.refresh_token.expose());
            body["token_type"] = json!("Bearer");
            body["expires_in"] = json!(expires_in);
            Json(body).into_response()
        }
    };
    no_store(response)
}

pub async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Response, ApiError> {
    let issued = state
        .auth_context(&client)
        .signup(&body.email, &body.password, body.display_name.as_deref())
        .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "user": issued.user.to_public() })),
    )
        .into_response();
    set_session_cookies(&state, response.headers_mut(), &issued);
    Ok(no_store(response))
}

pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let issued = state
        .auth_context(&client)
        .login(&body.email, &body.password)
        .await?;
    Ok(session_response(&state, issued, body.transport, true))
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
        _ => (Transport::Cookie, state.auth.cookies.read_refresh(&headers)),
    };
    let result = match raw {
        Some(raw) => state.auth_context(&client).refresh(&raw).await,
        None => Err(AuthError::Unauthenticated),
    };
    match result {
        Ok(issued) => Ok(session_response(&state, issued, transport, false)),
        Err(err) => {
            let mut response = ApiError::from(err).into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                clear_session_cookies(&state, response.headers_mut());
            }
            Err(no_store(response))
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let raw = state.auth.cookies.read_refresh(&headers);
    let principal = principal_from_headers(&state, &headers);
    state
        .auth_context(&client)
        .logout(raw.as_deref(), principal.as_ref())
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_session_cookies(&state, response.headers_mut());
    let (name, value) = clear_site_data();
    response.headers_mut().insert(name, value);
    Ok(no_store(response))
}

pub async fn me(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let user = state.auth_context(&client).current_user(&principal).await?;
    Ok(no_store(
        Json(json!({ "user": user.to_public() })).into_response(),
    ))
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
        .auth_context(&client)
        .update_profile(&principal, change)
        .await?;
    Ok(no_store(
        Json(json!({ "user": user.to_public() })).into_response(),
    ))
}

pub async fn sessions(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let sessions = state.auth_context(&client).sessions(&principal).await?;
    Ok(no_store(
        Json(json!({ "sessions": sessions })).into_response(),
    ))
}

pub async fn revoke_session(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // A malformed id is as unknown as someone else's.
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    state
        .auth_context(&client)
        .revoke_session(&principal, id)
        .await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    state
        .auth_context(&client)
        .revoke_other_sessions(&principal)
        .await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

pub async fn activity(
    State(state): State<AppState>,
    client: ClientInfo,
    CurrentUser(principal): CurrentUser,
) -> Result<Response, ApiError> {
    let activity = state.auth_context(&client).activity(&principal).await?;
    Ok(no_store(
        Json(json!({ "activity": activity })).into_response(),
    ))
}
