//! Wire types shared by the server and the WASM bundle. Nothing secret
//! lives here: these are exactly what a client may see.

use serde::{Deserialize, Serialize};

/// Why a request was refused: the `error` of every error body of the JSON
/// API, and the code the web app sees. Stable: clients match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidEmail,
    PasswordTooShort,
    PasswordTooLong,
    PasswordTooWeak,
    InvalidDisplayName,
    MalformedJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    EmailTaken,
    InvalidCredentials,
    /// No valid session: sign in (or refresh) first.
    Unauthenticated,
    /// A state-changing request that did not come from this site.
    Csrf,
    NotFound,
    /// CONNECT and TRACE, which no route takes.
    MethodNotAllowed,
    TooManyRequests,
    RequestTimeout,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// As it appears on the wire, e.g. `invalid_credentials`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEmail => "invalid_email",
            Self::PasswordTooShort => "password_too_short",
            Self::PasswordTooLong => "password_too_long",
            Self::PasswordTooWeak => "password_too_weak",
            Self::InvalidDisplayName => "invalid_display_name",
            Self::MalformedJson => "malformed_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::EmailTaken => "email_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::Csrf => "csrf",
            Self::NotFound => "not_found",
            Self::TooManyRequests => "too_many_requests",
            Self::RequestTimeout => "request_timeout",
            Self::Unavailable => "unavailable",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal",
        }
    }
}

/// A user as clients see it. Never carries a password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// When the current session's tokens run out (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub access_expires_at: String,
    pub refresh_expires_at: String,
}

/// The signed-in user and the state of their session, as the web app sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentSession {
    pub user: User,
    /// Seconds until the access token expires, counted when this was made;
    /// relative, so the browser's clock does not matter.
    pub access_expires_in_secs: i64,
    /// When the session ends for good unless renewed by signing in (RFC 3339, UTC).
    pub session_expires_at: String,
}

/// One of the user's signed-in sessions (a browser or device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: String,
    /// e.g. "Firefox on Linux", from the user agent.
    pub device: String,
    pub ip: Option<String>,
    pub signed_in_at: String,
    pub last_used_at: String,
    /// The session making this request.
    pub current: bool,
}

/// One entry of the user's security activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub event: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub device: Option<String>,
    pub at: String,
}

// Bodies of the JSON API under /api/auth.

/// `{"user": …}`: sign-up, `/me` and profile changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserResponse {
    pub user: User,
}

/// A freshly issued session: sign-in and refresh. The tokens are in the
/// body only when the client asked for them (`"transport": "bearer"`);
/// otherwise they travel in HTTP-only cookies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    pub session: SessionInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(flatten)]
    pub tokens: Option<BearerTokens>,
}

/// Tokens handed to a client that keeps them itself (not a browser).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BearerTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

// By hand, so the tokens can never be printed.
impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerTokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// `{"sessions": […]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsResponse {
    pub sessions: Vec<SessionSummary>,
}

/// `{"activity": […]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityResponse {
    pub activity: Vec<ActivityEntry>,
}

/// A password as a form sends it to a server function. The server
/// function macro derives `Debug` for its arguments; this one prints as
/// `[redacted]`, so a logged request never shows it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordField(String);

impl PasswordField {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for PasswordField {
    fn from(password: String) -> Self {
        Self(password)
    }
}

impl std::fmt::Debug for PasswordField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordField([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorCode, PasswordField};

    #[test]
    fn error_codes_are_the_same_in_json_and_in_logs() {
        use ErrorCode::*;
        for code in [
            InvalidEmail,
            PasswordTooShort,
            PasswordTooLong,
            PasswordTooWeak,
            InvalidDisplayName,
            MalformedJson,
            UnsupportedMediaType,
            PayloadTooLarge,
            EmailTaken,
            InvalidCredentials,
            Unauthenticated,
            Csrf,
            NotFound,
            MethodNotAllowed,
            TooManyRequests,
            RequestTimeout,
            Unavailable,
            Internal,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn a_password_field_travels_as_a_string_and_never_prints() {
        let field: PasswordField = serde_json::from_str("\"hunter2-hunter2\"").unwrap();
        assert_eq!(field.expose(), "hunter2-hunter2");
        assert_eq!(
            serde_json::to_string(&field).unwrap(),
            "\"hunter2-hunter2\""
        );
        assert!(!format!("{field:?}").contains("hunter2"));
    }
}
