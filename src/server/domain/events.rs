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
    /// A role was granted to the user (by an administrator, the command
    /// line or the bootstrap setting).
    RoleGranted,
    /// An administrator changed the user (roles, attributes, disabled,
    /// display name); the details say which.
    UserUpdated,
    /// An administrator signed the user out everywhere.
    SignedOutByAdmin,
    /// The account was deleted (by its owner or an administrator).
    AccountDeleted,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    /// A personal API key, or a service account's or agent's key, was made.
    ApiKeyCreated,
    ApiKeyRevoked,
    /// A service account or agent was registered, changed or deleted; the
    /// details name it (the event is its owner's).
    AgentRegistered,
    AgentUpdated,
    AgentDeleted,
    /// A token for one of the user's agents, acting for the user.
    AgentDelegation,
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
            Self::RoleGranted => "role_granted",
            Self::UserUpdated => "user_updated",
            Self::SignedOutByAdmin => "signed_out_by_admin",
            Self::AccountDeleted => "account_deleted",
            Self::RoleCreated => "role_created",
            Self::RoleUpdated => "role_updated",
            Self::RoleDeleted => "role_deleted",
            Self::ApiKeyCreated => "api_key_created",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::AgentRegistered => "agent_registered",
            Self::AgentUpdated => "agent_updated",
            Self::AgentDeleted => "agent_deleted",
            Self::AgentDelegation => "agent_delegation",
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
