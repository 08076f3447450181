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
    /// The access token predates a change to the user's authorization
    /// (roles, attributes, disabled, password): refresh, then retry.
    StaleAuthorization,
    /// Signed in, without the permission the request needs.
    Forbidden,
    /// A role name that is malformed or names no role.
    InvalidRole,
    /// A permission not in the catalogue.
    InvalidPermission,
    /// Attributes over the limits or with a malformed key.
    InvalidAttributes,
    /// A paging cursor this server did not hand out.
    InvalidCursor,
    /// A query parameter that is not what the endpoint takes.
    InvalidQuery,
    /// `user` and `admin` cannot be deleted, and `admin` not changed.
    BuiltInRole,
    /// A role with that name exists already.
    RoleExists,
    /// The change would leave no enabled administrator.
    LastAdmin,
    /// The name of a key or an agent: 1 to 64 characters, no control
    /// characters, no surrounding spaces.
    InvalidName,
    /// An agent's kind: `service` or `agent`.
    InvalidKind,
    /// A key's lifetime outside what the server allows.
    InvalidExpiry,
    /// The owner has an agent of that name already.
    AgentExists,
    /// An agent holds two live keys at most (one being rotated out).
    KeyLimit,
    /// A state-changing request that did not come from this site.
    Csrf,
    /// Forward-auth could not tell which request it is asked about: the
    /// proxy's headers are missing or malformed, or the proxy is not one
    /// of `PORTCULLIS_TRUSTED_PROXIES`.
    InvalidForwardedRequest,
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
            Self::StaleAuthorization => "stale_authorization",
            Self::Forbidden => "forbidden",
            Self::InvalidRole => "invalid_role",
            Self::InvalidPermission => "invalid_permission",
            Self::InvalidAttributes => "invalid_attributes",
            Self::InvalidCursor => "invalid_cursor",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidForwardedRequest => "invalid_forwarded_request",
            Self::BuiltInRole => "built_in_role",
            Self::RoleExists => "role_exists",
            Self::LastAdmin => "last_admin",
            Self::InvalidName => "invalid_name",
            Self::InvalidKind => "invalid_kind",
            Self::InvalidExpiry => "invalid_expiry",
            Self::AgentExists => "agent_exists",
            Self::KeyLimit => "key_limit",
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
    /// `admin` for administrators, else `user`; `roles` says all.
    pub role: String,
    /// Every role held, `user` included.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl User {
    /// Whether the admin console has anything for this user: the nav
    /// shows it then (the server checks each page on its own).
    pub fn may_administer(&self) -> bool {
        self.permissions.iter().any(|p| {
            matches!(
                p,
                Permission::UsersRead | Permission::AuditRead | Permission::AgentsManage
            )
        })
    }
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

/// What a role lets its holders do: a fixed catalogue, defined here so the
/// server and the web app agree on it. On the wire and in tokens as e.g.
/// `users:read`. New capabilities add variants; none is ever renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "users:write")]
    UsersWrite,
    #[serde(rename = "users:disable")]
    UsersDisable,
    #[serde(rename = "sessions:revoke")]
    SessionsRevoke,
    #[serde(rename = "roles:write")]
    RolesWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Every service account and agent, whoever owns it.
    #[serde(rename = "agents:manage")]
    AgentsManage,
}

impl Permission {
    /// The whole catalogue, in its canonical order.
    pub const ALL: [Permission; 7] = [
        Self::UsersRead,
        Self::UsersWrite,
        Self::UsersDisable,
        Self::SessionsRevoke,
        Self::RolesWrite,
        Self::AuditRead,
        Self::AgentsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::UsersDisable => "users:disable",
            Self::SessionsRevoke => "sessions:revoke",
            Self::RolesWrite => "roles:write",
            Self::AuditRead => "audit:read",
            Self::AgentsManage => "agents:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A role's name: 1 to 32 of `a-z`, `0-9`, `_` and `-`, starting with a
/// letter. Two roles are built in: [`RoleName::USER`] (everyone holds it)
/// and [`RoleName::ADMIN`] (every permission).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    pub const USER: &'static str = "user";
    pub const ADMIN: &'static str = "admin";

    pub fn parse(s: &str) -> Option<Self> {
        let valid = (1..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        valid.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_builtin(&self) -> bool {
        self.0 == Self::USER || self.0 == Self::ADMIN
    }
}

impl TryFrom<String> for RoleName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| format!("invalid role name {s:?}"))
    }
}

impl From<RoleName> for String {
    fn from(role: RoleName) -> Self {
        role.0
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

// Bodies of the admin JSON API under /api/admin.

/// A user as the admin console lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// Every role held, `user` included.
    pub roles: Vec<String>,
    pub disabled: bool,
    pub created_at: String,
}

/// `GET /api/admin/users`: a page, newest first; `next_cursor` fetches the
/// next one (absent on the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserPage {
    pub users: Vec<AdminUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/admin/users/{id}`: one user in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserDetail {
    #[serde(flatten)]
    pub user: AdminUser,
    pub permissions: Vec<Permission>,
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The last successful sign-in (or sign-up) the audit log still holds.
    pub last_sign_in_at: Option<String>,
    pub sessions: Vec<SessionSummary>,
    pub activity: Vec<ActivityEntry>,
}

/// `PATCH /api/admin/users/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUserChange {
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Exactly the roles to hold (`user` is implied either way).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Replaces every attribute.
    #[serde(default)]
    pub attributes: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A role as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    /// `user` and `admin`.
    pub built_in: bool,
    /// How many users hold it (for `user`: every user).
    pub holders: i64,
}

/// `GET /api/admin/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesResponse {
    pub roles: Vec<RoleInfo>,
    /// The whole catalogue, for the console's checkboxes.
    pub catalogue: Vec<Permission>,
}

/// `POST /api/admin/roles` (with `name`) and `PUT /api/admin/roles/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub permissions: Vec<String>,
}

/// One audit event across users, for the admin console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub event: String,
    pub outcome: String,
    pub user_id: Option<String>,
    /// The administrator who acted, if it was not the user.
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub at: String,
}

/// `GET /api/admin/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
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

/// What an admin page shows, as the server read it for this request.
/// Read on the server (`server::http::admin_pages`) for the console's
/// pages (`pages::admin`); never sent to the browser.
#[derive(Debug, Clone)]
pub enum AdminPage {
    Users {
        page: AdminUserPage,
        query: String,
    },
    User(Box<AdminUserDetail>),
    Roles(RolesResponse),
    Audit {
        page: AuditPage,
        filters: AuditFilters,
    },
    /// Signed in without the permission this page needs.
    Forbidden,
    NotFound,
    /// A bad filter or cursor, or the database failing: said on the page.
    Failed(String),
}

/// An API key as its owner sees it: never the key itself, which is shown
/// once, when made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// `pk` (a person's own) or `sk` (a service account's or agent's).
    pub kind: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// What it may do (never more than its holder can); `None` for an
    /// agent's key that may do all its agent may.
    pub scopes: Option<Vec<Permission>>,
    pub created_at: String,
    /// `None`: never (an administrator's explicit choice).
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
}

/// `POST /api/auth/api-keys` and `POST /api/agents/{id}/keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    #[serde(default)]
    pub name: Option<String>,
    /// Personal keys only; an agent's key may do what its agent may.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// 90 unless given; at most the server's maximum.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    /// Administrators only.
    #[serde(default)]
    pub never_expires: bool,
}

/// A key just made: `key` is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    pub key: String,
}

/// `GET /api/auth/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
}

/// A service account or an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Also its OAuth `client_id`.
    pub id: String,
    pub name: String,
    /// `service` or `agent`.
    pub kind: String,
    pub description: String,
    /// As granted; `effective` is what its owner's current permissions leave.
    pub permissions: Vec<Permission>,
    pub effective: Vec<Permission>,
    pub owner_id: String,
    pub owner_email: Option<String>,
    pub disabled: bool,
    pub created_at: String,
    pub keys: Vec<ApiKey>,
}

/// `POST /api/agents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The first key's lifetime; as for [`NewApiKey`].
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    #[serde(default)]
    pub never_expires: bool,
}

/// The answer to `POST /api/agents`: `key` is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredAgent {
    pub agent: Agent,
    pub key: String,
}

/// `GET /api/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

/// `PATCH /api/agents/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentChange {
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET`/`PUT /api/agents/{id}/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPermissions {
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub effective: Vec<Permission>,
}

/// `PUT /api/agents/{id}/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPermissionsChange {
    pub permissions: Vec<String>,
}

/// `GET /api/users/{id}`: a user as another backend may cache it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLookup {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub disabled: bool,
}

/// The audit page's filters, as given in its address.
#[derive(Debug, Clone, Default)]
pub struct AuditFilters {
    pub user: String,
    pub event_type: String,
    pub outcome: String,
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
            StaleAuthorization,
            Forbidden,
            InvalidRole,
            InvalidPermission,
            InvalidAttributes,
            InvalidCursor,
            InvalidQuery,
            BuiltInRole,
            RoleExists,
            LastAdmin,
            InvalidName,
            InvalidKind,
            InvalidExpiry,
            AgentExists,
            KeyLimit,
            Csrf,
            InvalidForwardedRequest,
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
