//! What the audit log records: the kind of event and how it ended.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Signup,
    Login,
    Refresh,
    RefreshReuse,
    Logout,
    PasswordChange,
    ProfileUpdate,
    SessionRevoked,
    Throttled,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::RefreshReuse => "refresh_reuse_detected",
            Self::Logout => "logout",
            Self::PasswordChange => "password_change",
            Self::ProfileUpdate => "profile_update",
            Self::SessionRevoked => "session_revoked",
            Self::Throttled => "throttled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}
