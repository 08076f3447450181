//! `X-Portcullis-Assertion`: a short JWT that forward-auth adds beside the
//! identity headers, signed with the access tokens' key, its audience the
//! host the request was for. A service behind the gateway that checks it
//! knows the headers came through the gate, not from a client that found
//! another way in. Forward-auth keeps each for reuse while it has half its
//! life left (`http::gate_passes`): signing one per request would cost more
//! than the rest of the decision.

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{encode, Header};
use serde::Serialize;
use uuid::Uuid;

use super::{
    keys::{KeyError, KeySet, SigningKeys},
    tokens::TokenError,
};
use crate::server::domain::grants::Attributes;

/// The header's `typ`: no other token signed with these keys passes for one.
pub const ASSERTION_MEDIA_TYPE: &str = "portcullis-assertion+jwt";
/// How long an assertion holds.
pub const ASSERTION_TTL: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, Clone, Serialize)]
pub struct AssertionClaims<'a> {
    pub iss: &'a str,
    pub sub: String,
    pub aud: &'a str,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub email: &'a str,
    pub roles: &'a [String],
    /// The user's attributes, when there are any: a service reads them
    /// here rather than from headers it cannot tell apart from a client's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attrs: Option<&'a Attributes>,
}

/// Whom an assertion vouches for.
pub struct Vouched<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub roles: &'a [String],
    pub attributes: &'a Attributes,
}

pub struct Assertions {
    keys: KeySet,
    issuer: String,
}

/// A signed assertion and when it runs out.
pub struct Assertion {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl Assertions {
    pub fn new(keys: &SigningKeys, issuer: String) -> Result<Self, KeyError> {
        Ok(Self {
            keys: KeySet::new(keys)?,
            issuer,
        })
    }

    /// An assertion for `who`, for a request to `host` (a DNS name, at most
    /// 253 bytes: the URL parser saw to that).
    pub fn vouch(
        &self,
        who: &Vouched<'_>,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<Assertion, TokenError> {
        let expires_at = now + ASSERTION_TTL;
        let claims = AssertionClaims {
            iss: &self.issuer,
            sub: who.user_id.to_string(),
            aud: host,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().to_string(),
            email: who.email,
            roles: who.roles,
            attrs: (!who.attributes.is_empty()).then_some(who.attributes),
        };
        let (kid, signing) = self.keys.signing();
        let mut header = Header::new(self.keys.algorithm());
        header.kid = Some(kid.to_owned());
        header.typ = Some(ASSERTION_MEDIA_TYPE.to_owned());
        let token =
            encode(&header, &claims, signing).map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(Assertion { token, expires_at })
    }
}
