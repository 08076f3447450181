//! The use cases, one module each. The JSON handlers and the UI's server
//! functions both call these, so each rule has one implementation.

pub mod admin;
pub mod authz_view;
pub mod bootstrap;
pub mod forward_auth;
pub mod login;
pub mod machines;
pub mod profile;
pub mod retention;
pub mod security;
pub mod sessions;
pub mod signup;
pub mod throttle;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use self::{
    authz_view::AuthzView,
    bootstrap::BootstrapAdmin,
    forward_auth::GatewayPolicy,
    machines::{unknown_keys::UnknownKeys, MachinePolicy},
    sessions::SessionPolicy,
    throttle::ThrottlePolicy,
};
use crate::{
    model::User,
    server::{
        credentials::{
            device_cookies::DeviceCookies,
            password::{HashError, PasswordHasher},
            tokens::{AccessTokens, TokenError},
        },
        domain::{
            client::ClientInfo,
            events::{EventType, Outcome},
        },
        store::{audit, db::Db, users::UserRecord},
    },
    validate::ValidationError,
};

pub use self::{login::LoginOutcome, profile::ProfileChange, sessions::Issued};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The current password given for a change was wrong.
    #[error("current password is wrong")]
    WrongCurrentPassword,
    /// No valid session: missing, expired, revoked or replayed token.
    #[error("not signed in")]
    Unauthenticated,
    /// The token's authorization version is older than the user's: their
    /// roles, attributes or standing changed since. A refresh brings it up
    /// to date (if the session still stands).
    #[error("authorization changed since the token was issued")]
    StaleAuthorization,
    /// Password hashing is saturated.
    #[error("password hashing is saturated")]
    Busy,
    /// Too many attempts; try again after this many seconds.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// No such thing for this user.
    #[error("not found")]
    NotFound,
    /// Signed in without the permission this needs.
    #[error("forbidden")]
    Forbidden,
    #[error("invalid paging cursor")]
    InvalidCursor,
    /// A search or filter term holding a control character (a NUL, say,
    /// which PostgreSQL text cannot hold); names the parameter.
    #[error("invalid query parameter `{0}`")]
    InvalidQuery(&'static str),
    /// A role name that is malformed or names no role.
    #[error("invalid role")]
    InvalidRole,
    #[error("invalid permission")]
    InvalidPermission,
    #[error("invalid attributes: {0}")]
    InvalidAttributes(String),
    #[error("built-in role")]
    BuiltInRole,
    #[error("role exists")]
    RoleExists,
    /// The change would leave no enabled administrator.
    #[error("last administrator")]
    LastAdmin,
    #[error("invalid name")]
    InvalidName,
    #[error("invalid kind")]
    InvalidKind,
    #[error("invalid expiry")]
    InvalidExpiry,
    #[error("agent exists")]
    AgentExists,
    #[error("key limit")]
    KeyLimit,
    #[error("database")]
    Database(#[from] sqlx::Error),
    #[error("password hashing")]
    Hashing(#[source] HashError),
    #[error("access token")]
    Token(#[from] TokenError),
}

impl From<HashError> for ServiceError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => ServiceError::Busy,
            internal @ HashError::Internal(_) => ServiceError::Hashing(internal),
        }
    }
}

/// The settings of the rules, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Policies {
    pub sessions: SessionPolicy,
    pub throttle: ThrottlePolicy,
    pub bootstrap_admin: BootstrapAdmin,
    pub gateway: GatewayPolicy,
    pub machines: MachinePolicy,
}

/// What the use cases need from the running application, bound to one
/// request: this client, at this moment.
pub struct Services<'a> {
    pub db: &'a Db,
    pub authz: &'a AuthzView,
    pub hasher: &'a PasswordHasher,
    pub tokens: &'a AccessTokens,
    pub devices: &'a DeviceCookies,
    pub policies: &'a Policies,
    /// This replica's count of unknown API keys per address.
    pub unknown_keys: &'a UnknownKeys,
    pub now: DateTime<Utc>,
    pub client: &'a ClientInfo,
}

impl Services<'_> {
    /// An audit event of this client, now.
    fn event(
        &self,
        event: EventType,
        outcome: Outcome,
        user_id: Option<Uuid>,
        details: serde_json::Value,
    ) -> audit::Event<'_> {
        audit::Event {
            event,
            outcome,
            user_id,
            actor_id: None,
            client: self.client,
            details,
            at: self.now,
        }
    }

    /// Records an event on its own; a failure is logged, not returned.
    async fn audit(
        &self,
        event: EventType,
        outcome: Outcome,
        user: Option<Uuid>,
        details: serde_json::Value,
    ) {
        audit::record(self.db, self.event(event, outcome, user, details)).await;
    }
}

/// A user as clients see it.
impl From<&UserRecord> for User {
    fn from(user: &UserRecord) -> Self {
        let grants = user.grants();
        User {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: grants.primary_role().to_owned(),
            roles: grants.roles,
            permissions: grants.permissions,
            created_at: rfc3339(user.created_at),
        }
    }
}

/// Times as clients see them: RFC 3339, UTC, whole seconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
