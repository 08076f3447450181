//! `X-Portcullis-Assertion`: a short JWT that forward-auth adds beside the
//! identity headers, signed with the access tokens' key, its audience the
//! host the request was for. A service behind the gateway that checks it
//! knows the headers came through the gate, not from a client that found
//! another way in. Assertions are kept for reuse while they have more than
//! half their life left: signing one per request would cost more than the
//! rest of the decision.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

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
/// A kept assertion is handed out again while it has this much left.
const REUSE_WHILE: TimeDelta = TimeDelta::seconds(30);
/// Kept assertions at most; past it the store starts over.
const CAPACITY: usize = 50_000;

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
    pub session_id: Uuid,
    pub email: &'a str,
    pub roles: &'a [String],
    pub attributes: &'a Attributes,
    pub authz_version: i64,
}

struct Kept {
    token: Arc<str>,
    expires_at: DateTime<Utc>,
    email: String,
    authz_version: i64,
}

pub struct Assertions {
    keys: KeySet,
    issuer: String,
    kept: Mutex<HashMap<(Uuid, String), Kept>>,
}

impl Assertions {
    pub fn new(keys: &SigningKeys, issuer: String) -> Result<Self, KeyError> {
        Ok(Self {
            keys: KeySet::new(keys)?,
            issuer,
            kept: Mutex::new(HashMap::new()),
        })
    }

    /// An assertion for `who`, for a request to `host` (a DNS name, at most
    /// 253 bytes: the URL parser saw to that).
    pub fn vouch(
        &self,
        who: &Vouched<'_>,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<str>, TokenError> {
        let key = (who.session_id, host.to_owned());
        if let Some(kept) = self.lock().get(&key) {
            let current = kept.authz_version == who.authz_version && kept.email == who.email;
            if current && kept.expires_at - now >= REUSE_WHILE {
                return Ok(kept.token.clone());
            }
        }
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
        let token: Arc<str> = encode(&header, &claims, signing)
            .map_err(|e| TokenError::Signing(e.to_string()))?
            .into();
        let mut kept = self.lock();
        if kept.len() >= CAPACITY {
            kept.retain(|_, k| k.expires_at - now >= REUSE_WHILE);
            if kept.len() >= CAPACITY {
                kept.clear();
            }
        }
        kept.insert(
            key,
            Kept {
                token: token.clone(),
                expires_at,
                email: who.email.to_owned(),
                authz_version: who.authz_version,
            },
        );
        Ok(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, String), Kept>> {
        // A panic while holding it left a map, nothing half-done.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}
