//! What a Portcullis access token says: the claims as signed, and what a
//! service asks of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An administrator's string attributes on a user (`team_id`, …).
pub type Attributes = BTreeMap<String, String>;

/// The `typ` claim of access tokens.
pub const ACCESS_TOKEN_TYPE: &str = "access";
/// The header's `typ` for access tokens (RFC 9068), so that no other JWT
/// signed with the same keys passes for one.
pub const ACCESS_TOKEN_MEDIA_TYPE: &str = "at+jwt";

/// The claims of an access token, exactly as Portcullis signs them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: String,
    pub email: String,
    /// `admin` for administrators, else `user`: for services that read
    /// only this claim; `roles` says all.
    pub role: String,
    /// Every role held, `user` included.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The union of the roles' permissions, e.g. `users:read`.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Attributes an administrator set, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Attributes>,
    /// The user's authorization version when the token was made.
    #[serde(default = "first_version")]
    pub ver: i64,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The session this token belongs to.
    pub sid: String,
    /// Token type, so a token minted for another purpose never passes.
    pub typ: String,
}

fn first_version() -> i64 {
    1
}

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A person who signed in; the user's id.
    User(&'a str),
}

impl AccessClaims {
    pub fn subject(&self) -> Subject<'_> {
        Subject::User(&self.sub)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }

    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|held| held == permission)
    }

    /// An attribute's value, if the user has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attrs.as_ref()?.get(key).map(String::as_str)
    }
}
