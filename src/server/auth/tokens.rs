//! Access tokens (short-lived JWTs, checked without the database) and
//! refresh tokens (opaque random strings, stored only as SHA-256 hashes).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::server::secret::Secret;

/// Clock skew tolerated when checking `exp`.
pub const LEEWAY_SECS: i64 = 30;
const ACCESS_TOKEN_TYPE: &str = "access";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: String,
    pub email: String,
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (refresh-token family) this token belongs to.
    pub sid: String,
    /// Token type, so a token minted for another purpose never passes here.
    pub typ: String,
}

/// What a verified access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub email: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("access token invalid: {0}")]
    Invalid(String),
    #[error("access token expired")]
    Expired,
    #[error("could not sign token: {0}")]
    Signing(String),
}

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl AccessTokens {
    pub fn hs256(secret: &Secret, issuer: String, audience: String, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the injected clock in `verify`.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            issuer,
            audience,
            ttl,
        }
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        email: &str,
        role: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            email: email.to_owned(),
            role: role.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().to_string(),
            sid: session_id.to_string(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok((token, expires_at))
    }

    /// Checks signature (HS256 only), issuer, audience, type and expiry.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, TokenError> {
        let data = decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if claims.typ != ACCESS_TOKEN_TYPE {
            return Err(TokenError::Invalid("wrong token type".into()));
        }
        if claims.exp + LEEWAY_SECS <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        let user_id = Uuid::parse_str(&claims.sub)
            .map_err(|_| TokenError::Invalid("subject is not a user id".into()))?;
        let session_id = Uuid::parse_str(&claims.sid)
            .map_err(|_| TokenError::Invalid("sid is not a session id".into()))?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| TokenError::Invalid("exp out of range".into()))?;
        Ok(Principal {
            user_id,
            session_id,
            email: claims.email,
            role: claims.role,
            expires_at,
        })
    }
}

/// A refresh token as handed to the client. Its `Debug` hides it.
pub struct RefreshToken(String);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

impl RefreshToken {
    /// 256 random bits, URL-safe base64.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        hash_refresh_token(&self.0)
    }
}

/// The only form in which refresh tokens are stored.
pub fn hash_refresh_token(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> AccessTokens {
        AccessTokens::hs256(
            &Secret::new(vec![7; 32]),
            "http://issuer".into(),
            "portcullis".into(),
            Duration::minutes(15),
        )
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let t = tokens();
        let now = Utc::now();
        let id = Uuid::new_v4();
        let (jwt, exp) = t
            .issue(id, Uuid::new_v4(), "a@example.com", "user", now)
            .unwrap();

        let p = t.verify(&jwt, now).unwrap();
        assert_eq!(p.user_id, id);
        assert_eq!(p.expires_at.timestamp(), exp.timestamp());
        // Within the leeway it still passes; past it, it does not.
        assert!(t
            .verify(&jwt, exp + Duration::seconds(LEEWAY_SECS - 1))
            .is_ok());
        assert_eq!(
            t.verify(&jwt, exp + Duration::seconds(LEEWAY_SECS)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tokens_from_another_key_issuer_or_audience_fail() {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let other_key = AccessTokens::hs256(
            &Secret::new(vec![8; 32]),
            "http://issuer".into(),
            "portcullis".into(),
            Duration::minutes(15),
        );
        let other_iss = AccessTokens::hs256(
            &Secret::new(vec![7; 32]),
            "http://elsewhere".into(),
            "portcullis".into(),
            Duration::minutes(15),
        );
        let other_aud = AccessTokens::hs256(
            &Secret::new(vec![7; 32]),
            "http://issuer".into(),
            "another-service".into(),
            Duration::minutes(15),
        );
        for minted_by in [other_key, other_iss, other_aud] {
            let (jwt, _) = minted_by
                .issue(id, Uuid::new_v4(), "a@example.com", "user", now)
                .unwrap();
            assert!(matches!(
                tokens().verify(&jwt, now),
                Err(TokenError::Invalid(_))
            ));
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert_eq!(a.hash().len(), 32);
        assert_eq!(a.hash(), hash_refresh_token(a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
