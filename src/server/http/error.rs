//! The server's one error type: an explicit status, a stable machine code and
//! a message safe to show. Internal detail goes to the log, never the client.

use std::borrow::Cow;

use axum::{
    http::{header, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use super::middleware::request_id::current_request_id;
use crate::{
    model::ErrorCode,
    server::{
        credentials::cookies::CookieError, platform::telemetry::escape, services::ServiceError,
    },
};

/// What a 401 tells the client to present (RFC 9110 §11.6.1).
const WWW_AUTHENTICATE: &str = "Bearer realm=\"portcullis\"";
/// RFC 6750's `invalid_token`: a refresh gets one that is current.
const WWW_AUTHENTICATE_STALE: &str = "Bearer realm=\"portcullis\", error=\"invalid_token\", \
    error_description=\"authorization changed; refresh the token\"";

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: Cow<'static, str>,
    /// Logged at the point of response, never sent.
    detail: Option<String>,
    retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorCode,
    message: &'a str,
    request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after_secs: None,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Every failure to authenticate is this same 401.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "Sign in to continue.",
        )
    }

    /// Signed in, without the permission this needs.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "You do not have permission to do this.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Nothing is here.",
        )
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        )
    }

    /// A failure the client cannot act on. `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
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

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The headers this refusal carries besides its body: when to try
    /// again, and for a 401 how to authenticate.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = Vec::new();
        if let Some(secs) = self.retry_after_secs {
            headers.push((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = match self.code {
                ErrorCode::StaleAuthorization => WWW_AUTHENTICATE_STALE,
                _ => WWW_AUTHENTICATE,
            };
            headers.push((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        headers
    }

    /// Writes the internal detail, if any, to the log of this request.
    pub fn log(&self) {
        let Some(detail) = &self.detail else { return };
        // Details quote client input (a field name, a header): escaped.
        let detail = escape(detail);
        let code = self.code.as_str();
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code, %detail, "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code, %detail, "request refused");
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code.as_str(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// An error and everything that caused it, for the log.
fn with_sources(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(v) => ApiError::bad_request(v.code(), v.message()),
            ServiceError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "An account with this email already exists.",
            ),
            ServiceError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "The email or password is not correct.",
            ),
            ServiceError::WrongCurrentPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::InvalidCredentials,
                "The current password is not correct.",
            ),
            ServiceError::Unauthenticated => ApiError::unauthenticated(),
            ServiceError::StaleAuthorization => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::StaleAuthorization,
                "Your access changed. Refresh to continue.",
            ),
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::Forbidden => ApiError::forbidden(),
            ServiceError::InvalidCursor => ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "That page no longer exists. Start from the first page.",
            ),
            ServiceError::InvalidQuery(name) => ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("`{name}` holds a control character."),
            ),
            ServiceError::InvalidRole => ApiError::bad_request(
                ErrorCode::InvalidRole,
                "Role names are 1 to 32 of a-z, 0-9, _ and -, start with a letter, \
                 and name an existing role; descriptions hold at most 200 characters.",
            ),
            ServiceError::InvalidPermission => ApiError::bad_request(
                ErrorCode::InvalidPermission,
                "Every permission must be one of the catalogue's.",
            ),
            ServiceError::InvalidAttributes(why) => {
                ApiError::bad_request(ErrorCode::InvalidAttributes, format!("Attributes: {why}."))
            }
            ServiceError::BuiltInRole => ApiError::bad_request(
                ErrorCode::BuiltInRole,
                "The built-in roles cannot be deleted, and `admin` cannot be changed.",
            ),
            ServiceError::RoleExists => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::RoleExists,
                "A role with this name exists already.",
            ),
            ServiceError::LastAdmin => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LastAdmin,
                "This would leave no enabled administrator.",
            ),
            ServiceError::InvalidName => ApiError::bad_request(
                ErrorCode::InvalidName,
                "Names are 1 to 64 characters, without control characters or surrounding spaces; \
                 descriptions at most 500.",
            ),
            ServiceError::InvalidKind => {
                ApiError::bad_request(ErrorCode::InvalidKind, "The kind is `service` or `agent`.")
            }
            ServiceError::InvalidExpiry => ApiError::bad_request(
                ErrorCode::InvalidExpiry,
                "A key lives from 1 day to the server's maximum.",
            ),
            ServiceError::AgentExists => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AgentExists,
                "You have a service account or agent of this name already.",
            ),
            ServiceError::KeyLimit => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::KeyLimit,
                "Two keys at most: revoke the old one first.",
            ),
            ServiceError::Busy => {
                ApiError::unavailable("Too many sign-ins at once. Try again in a moment.")
                    .with_retry_after(1)
            }
            ServiceError::Throttled(secs) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                format!("Too many attempts. Try again in {}.", wait_text(secs)),
            )
            .with_retry_after(secs),
            ServiceError::Database(
                ref cause @ (sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed),
            ) => ApiError::unavailable("The service is busy. Try again in a moment.")
                .with_detail(format!("database: {cause}"))
                .with_retry_after(1),
            internal @ (ServiceError::Database(_)
            | ServiceError::Hashing(_)
            | ServiceError::Token(_)) => ApiError::internal(with_sources(&internal)),
        }
    }
}

impl From<CookieError> for ApiError {
    fn from(err: CookieError) -> Self {
        ApiError::internal(err)
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
        let headers = self.headers();
        let body = ErrorBody {
            error: self.code,
            message: &self.message,
            request_id,
        };
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn internal_errors_log_their_causes_and_show_none() {
        let err = ServiceError::Hashing(crate::server::credentials::password::HashError::Internal(
            "argon2 said no".into(),
        ));
        let api = ApiError::from(err);
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!api.message().contains("argon2"));
        assert_eq!(
            api.detail.as_deref(),
            Some("password hashing: password hashing failed: argon2 said no")
        );
        let nested = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(with_sources(&nested), "outer: disk on fire");
    }

    #[test]
    fn a_401_says_how_to_authenticate() {
        let names: Vec<_> = ApiError::unauthenticated()
            .headers()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, [header::WWW_AUTHENTICATE]);
        assert!(ApiError::not_found().headers().is_empty());
    }

    /// The log as the pretty format writes it, into a buffer.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_input_in_a_detail_cannot_forge_log_lines() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(true)
            .with_writer(move || writer.clone())
            .finish();
        let api = ApiError::bad_request(ErrorCode::MalformedJson, "bad")
            .with_detail("unknown field `a\nERROR portcullis: forged\u{1b}[2J`");

        tracing::subscriber::with_default(subscriber, || api.log());

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("forged"), "{log}");
        assert!(!log.contains("\u{1b}[2J"), "{log}");
    }
}
