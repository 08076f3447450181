//! The server's one error type: an explicit status, a stable machine code and
//! a message safe to show. Internal detail goes to the log, never the client.

use std::borrow::Cow;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use super::middleware::request_id::current_request_id;
use crate::server::services::ServiceError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    /// Logged at the point of response, never sent.
    detail: Option<String>,
    retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    request_id: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after_secs: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Every failure to authenticate is this same 401.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign in to continue.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Nothing is here.")
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A failure the client cannot act on. `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. Quote the request id if you report it.",
        )
        .with_detail(detail)
    }

    pub fn with_detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// Writes the internal detail, if any, to the log of this request.
    pub fn log(&self) {
        let Some(detail) = &self.detail else { return };
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code = self.code, %detail, "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code = self.code, %detail, "request refused");
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                ApiError::unavailable("The service is temporarily unavailable.")
                    .with_detail(format!("database: {err}"))
                    .with_retry_after(1)
            }
            other => ApiError::internal(format!("database: {other}")),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(v) => ApiError::bad_request(v.code(), v.message()),
            ServiceError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this email already exists.",
            ),
            ServiceError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is not correct.",
            ),
            ServiceError::WrongCurrentPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_credentials",
                "The current password is not correct.",
            ),
            ServiceError::Unauthenticated => ApiError::unauthenticated(),
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::Busy => {
                ApiError::unavailable("Too many sign-ins at once. Try again in a moment.")
                    .with_retry_after(1)
            }
            ServiceError::Throttled(secs) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("Too many attempts. Try again in {}.", wait_text(secs)),
            )
            .with_retry_after(secs),
            ServiceError::Internal(detail) => ApiError::internal(detail),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        self.log();
        let body = ErrorBody {
            error: self.code,
            message: &self.message,
            request_id,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
