//! Tokens shaped as Portcullis signs them, for this crate's tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::{
    keys::{hs256_kid, Keys},
    verify::Verifier,
};

pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
pub const ISSUER: &str = "https://auth.example.com";
pub const USER_ID: &str = "6d2a0b54-0c1e-4c33-8f6a-5d8f1c1e9b10";
pub const SERVICE_ID: &str = "2f9c4e1a-8b7d-4c6e-a5f4-3e2d1c0b9a87";
pub const AGENT_ID: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
/// A service's or agent's key: the `sid` of its own tokens.
pub const KEY_ID: &str = "4c3b2a19-0817-4e6d-9c5b-4a3928170605";
pub const SESSION_ID: &str = "0b7e2c1a-3f4d-4e5a-9b6c-7d8e9f0a1b2c";

pub fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
}

pub fn sign(claims: &Value, typ: &str, kid: Option<String>, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(typ.into());
    header.kid = kid;
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// `claims` signed as an access token with [`SECRET`].
pub fn signed(claims: &Value) -> String {
    sign(claims, "at+jwt", Some(hs256_kid(SECRET)), SECRET)
}

pub fn verifier() -> Verifier {
    Verifier::new(ISSUER, "portcullis", Keys::hs256([SECRET]))
}

/// A person's token as Portcullis issues it today: no `kind`,
/// `client_id`, `scope` or `act`.
pub fn human(iat: i64) -> Value {
    json!({
        "sub": USER_ID, "email": "ada@example.com", "role": "user",
        "roles": ["user", "support"], "permissions": ["users:read"],
        "attrs": {"team_id": "t-7"}, "ver": 3,
        "iss": ISSUER, "aud": "portcullis",
        "iat": iat, "nbf": iat, "exp": iat + 900, "jti": "j", "sid": SESSION_ID, "typ": "access",
    })
}

/// A machine's own token (client credentials) of `kind`.
pub fn machine(kind: &str, id: &str, iat: i64) -> Value {
    json!({
        "sub": id, "kind": kind, "client_id": id,
        "scope": "users:read audit:read", "permissions": ["users:read", "audit:read"],
        "roles": [], "role": kind, "email": "", "sid": KEY_ID, "ver": 1,
        "iss": ISSUER, "aud": "portcullis",
        "iat": iat, "nbf": iat, "exp": iat + 300, "jti": "m", "typ": "access",
    })
}

/// An agent's token for a user (RFC 8693 token exchange).
pub fn delegated(iat: i64) -> Value {
    json!({
        "sub": USER_ID, "kind": "agent", "client_id": AGENT_ID, "act": {"sub": AGENT_ID},
        "scope": "users:read", "permissions": ["users:read"],
        "roles": [], "role": "agent", "email": "ada@example.com", "sid": SESSION_ID, "ver": 1,
        "iss": ISSUER, "aud": "portcullis",
        "iat": iat, "nbf": iat, "exp": iat + 300, "jti": "d", "typ": "access",
    })
}
