//! Verify Portcullis's access tokens in another Rust service, locally:
//! no call to Portcullis per request.
//!
//! A [`Verifier`] knows the issuer (Portcullis's public URL), the audience
//! (`PORTCULLIS_TOKEN_AUDIENCE`, `portcullis` unless set) and the keys:
//! Portcullis's Ed25519 public keys from its JWKS (feature `fetch` keeps
//! them current across key rotations), or the shared HS256 secret.
//! [`Verifier::verify`] checks the signature, `typ`, `iss`, `aud`, `exp`,
//! `nbf` and `iat`, and returns the [`AccessClaims`]: who the token
//! speaks for, their roles, permissions and attributes.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use portcullis_verify::{Keys, Subject, Verifier, VerifyError};
//!
//! // The shared secret (PORTCULLIS_JWT_SECRET), for HS256 deployments.
//! let secret = b"0123456789abcdef0123456789abcdef";
//! let verifier = Verifier::new("https://auth.example.com", "portcullis", Keys::hs256([&secret[..]]));
//!
//! # let now = SystemTime::now();
//! # let token = example::token(secret, now);
//! let claims = verifier.verify(&token, now)?;
//! assert_eq!(claims.subject(), Subject::User("6d2a0b54-0c1e-4c33-8f6a-5d8f1c1e9b10"));
//! assert!(claims.has_role("user"));
//! assert_eq!(claims.email, "ada@example.com");
//!
//! // An hour later the token has expired.
//! let later = now + Duration::from_secs(3600);
//! assert_eq!(verifier.verify(&token, later), Err(VerifyError::Expired));
//! # mod example {
//! #     use std::time::{SystemTime, UNIX_EPOCH};
//! #     pub fn token(secret: &[u8], now: SystemTime) -> String {
//! #         let at = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
//! #         let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
//! #         header.kid = Some(portcullis_verify::keys::hs256_kid(secret));
//! #         header.typ = Some("at+jwt".into());
//! #         let claims = serde_json::json!({
//! #             "sub": "6d2a0b54-0c1e-4c33-8f6a-5d8f1c1e9b10", "email": "ada@example.com",
//! #             "role": "user", "roles": ["user"], "permissions": [], "ver": 1,
//! #             "iss": "https://auth.example.com", "aud": "portcullis",
//! #             "iat": at, "nbf": at, "exp": at + 900, "jti": "j",
//! #             "sid": "0b7e2c1a-3f4d-4e5a-9b6c-7d8e9f0a1b2c", "typ": "access",
//! #         });
//! #         jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(secret)).unwrap()
//! #     }
//! # }
//! # Ok::<(), VerifyError>(())
//! ```
//!
//! # Principals
//!
//! A token speaks for a person, or for a machine: a service account or an
//! AI agent with a token of its own (OAuth client credentials), or an
//! agent acting for a person (RFC 8693 token exchange, the agent in
//! `act`). [`AccessClaims::subject`] says which, from the `kind` claim
//! (absent on people's tokens). [`Verifier::verify`] refuses a `kind` it
//! does not know, and an `act` on anything but an agent's token
//! ([`VerifyError::Principal`]), rather than take either for a person.
//! A machine holds no role, only the permissions of its scope:
//! [`AccessClaims::has_role`] is false for it, and
//! [`AccessClaims::has_permission`] works for every principal.
//!
//! ```
//! use portcullis_verify::{AccessClaims, Subject};
//!
//! fn audit_line(claims: &AccessClaims) -> String {
//!     match claims.subject() {
//!         Subject::User(id) => format!("user {id}"),
//!         Subject::Service(id) => format!("service {id}"),
//!         Subject::Agent { id, on_behalf_of: Some(user) } => format!("agent {id} for user {user}"),
//!         Subject::Agent { id, on_behalf_of: None } => format!("agent {id}"),
//!         // Only claims that did not pass `Verifier::verify`.
//!         Subject::Unknown => "nobody".to_owned(),
//!     }
//! }
//! # let claims: AccessClaims = serde_json::from_value(serde_json::json!({
//! #     "sub": "u-1", "kind": "agent", "client_id": "a-1", "act": {"sub": "a-1"},
//! #     "scope": "users:read", "permissions": ["users:read"], "roles": [], "role": "agent",
//! #     "email": "ada@example.com", "sid": "s-1", "iss": "https://auth.example.com",
//! #     "aud": "portcullis", "iat": 0, "nbf": 0, "exp": 300, "jti": "j", "typ": "access",
//! # })).unwrap();
//! assert_eq!(audit_line(&claims), "agent a-1 for user u-1");
//! assert!(claims.is_machine() && claims.has_permission("users:read"));
//! assert_eq!(claims.scopes().collect::<Vec<_>>(), ["users:read"]);
//! ```
//!
//! Features: `fetch` (keys from a JWKS URL, refetched on an unknown `kid`,
//! at most once per 10 s), `axum` (extractors: [`axum::Authenticated`]
//! for any principal, [`axum::AuthenticatedUser`] for people only,
//! [`axum::RequireRole`], [`axum::RequirePermission`]), `assertion`
//! (checks forward-auth's `X-Portcullis-Assertion`).
//!
//! Portcullis verifies its own tokens with this crate, so the two agree.

pub mod claims;
mod error;
pub mod keys;
mod verify;

#[cfg(feature = "assertion")]
pub mod assertion;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "fetch")]
mod fetch;
#[cfg(test)]
mod testing;

pub use claims::{
    AccessClaims, Actor, Attributes, Subject, ACCESS_TOKEN_MEDIA_TYPE, ACCESS_TOKEN_TYPE,
    KIND_AGENT, KIND_SERVICE, KIND_USER,
};
pub use error::VerifyError;
#[cfg(feature = "fetch")]
pub use fetch::{MAX_KEY_AGE, MIN_REFETCH_INTERVAL};
pub use keys::Keys;
pub use verify::{Verifier, DEFAULT_ACCESS_COOKIES, LEEWAY_SECS};
