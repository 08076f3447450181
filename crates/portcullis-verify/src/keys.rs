//! The keys that verify tokens, each named by its `kid`: the RFC 7638 JWK
//! thumbprint, so it follows from the key alone and Portcullis and every
//! verifier derive the same one.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::VerifyError;

/// One verifying key.
#[derive(Clone)]
struct Key {
    kid: String,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The keys a [`Verifier`](crate::Verifier) accepts. Public keys come from
/// Portcullis's JWKS (`/.well-known/jwks.json`); an HS256 secret is shared
/// out of band.
#[derive(Clone, Default)]
pub struct Keys {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: an HS256 key is a secret.
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("Keys").field("kids", &kids).finish()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638: SHA-256 over the required members, in lexical order.
fn thumbprint(canonical_jwk: &str) -> String {
    b64(&Sha256::digest(canonical_jwk.as_bytes()))
}

/// The `kid` of an HS256 secret.
pub fn hs256_kid(secret: &[u8]) -> String {
    thumbprint(&format!(r#"{{"k":"{}","kty":"oct"}}"#, b64(secret)))
}

/// The `kid` of an Ed25519 public key.
pub fn ed25519_kid(public: &[u8; 32]) -> String {
    thumbprint(&format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64(public)
    ))
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

impl Keys {
    /// HS256 secrets: the current one and any older ones still accepted.
    pub fn hs256<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let keys = secrets
            .into_iter()
            .map(|secret| Key {
                kid: hs256_kid(secret),
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret),
            })
            .collect();
        Self { keys }
    }

    /// Ed25519 public keys (32 bytes each).
    pub fn ed25519<'a>(
        publics: impl IntoIterator<Item = &'a [u8; 32]>,
    ) -> Result<Self, VerifyError> {
        let keys = publics
            .into_iter()
            .map(|public| {
                let key = DecodingKey::from_ed_components(&b64(public))
                    .map_err(|e| VerifyError::Keys(e.to_string()))?;
                Ok(Key {
                    kid: ed25519_kid(public),
                    algorithm: Algorithm::EdDSA,
                    key,
                })
            })
            .collect::<Result<_, VerifyError>>()?;
        Ok(Self { keys })
    }

    /// The Ed25519 keys of a JWK Set, as Portcullis publishes it. Keys of
    /// other kinds are skipped; a key whose `kid` is not its thumbprint is
    /// refused, so a kid can never name another key than its own.
    pub fn from_jwks(json: &str) -> Result<Self, VerifyError> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| VerifyError::Keys(e.to_string()))?;
        let mut publics = Vec::new();
        for jwk in set.keys {
            if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
                continue;
            }
            let x = jwk
                .x
                .ok_or_else(|| VerifyError::Keys("an OKP key without x".into()))?;
            let public: [u8; 32] = URL_SAFE_NO_PAD
                .decode(&x)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| VerifyError::Keys("an Ed25519 key is 32 bytes".into()))?;
            if jwk.kid.is_some_and(|kid| kid != ed25519_kid(&public)) {
                return Err(VerifyError::Keys(
                    "a kid that is not the key's thumbprint".into(),
                ));
            }
            publics.push(public);
        }
        Self::ed25519(publics.iter())
    }

    /// The key named `kid`.
    pub(crate) fn find(&self, kid: &str) -> Option<(Algorithm, &DecodingKey)> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| (k.algorithm, &k.key))
    }

    /// Whether a key named `kid` is here.
    pub fn contains(&self, kid: &str) -> bool {
        self.find(kid).is_some()
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
