//! Signing keys for access tokens: one current key that signs, any number of
//! older ones that still verify, each named by a `kid`. The `kid` is the
//! key's RFC 7638 JWK thumbprint, so it follows from the key alone and every
//! replica derives the same one.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey};
use portcullis_verify::{
    keys::{ed25519_kid, hs256_kid},
    Keys,
};
use serde_json::{json, Value};

use crate::server::platform::{
    env::{invalid, ConfigError, Env},
    secret::Secret,
};

/// Secrets shorter than this are refused in production.
pub const MIN_SECRET_BYTES: usize = 32;

/// How access tokens are signed, and which older keys still verify.
#[derive(Debug, Clone)]
pub enum SigningKeys {
    /// HMAC-SHA256 with a shared secret: only holders of it can verify.
    Hs256 {
        current: Secret,
        accepted: Vec<Secret>,
    },
    /// Ed25519: `current` is the 32-byte private seed; the public keys,
    /// published at `/.well-known/jwks.json`, are all anyone needs to verify.
    EdDsa {
        current: Secret,
        accepted_public: Vec<[u8; 32]>,
    },
}

impl SigningKeys {
    /// A 32-byte key for another purpose (`label`), derived from the
    /// current signing key: HMAC-SHA256 keyed with it, so the signing key
    /// itself is never used twice and cannot be recovered from the result.
    pub fn derive(&self, label: &[u8]) -> Result<[u8; 32], KeyError> {
        use hmac::{Hmac, Mac};
        let secret = match self {
            SigningKeys::Hs256 { current, .. } | SigningKeys::EdDsa { current, .. } => current,
        };
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.expose())
            .map_err(|e| KeyError(e.to_string()))?;
        mac.update(label);
        Ok(mac.finalize().into_bytes().into())
    }

    /// Development without configuration gets a random key: its tokens die
    /// with the process. Production must configure one.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let get = |name: &str| env.get(name);
        let algorithm = env.string("PORTCULLIS_JWT_ALGORITHM", "HS256");
        match algorithm.as_str() {
            "HS256" => {
                if get("PORTCULLIS_JWT_SIGNING_KEY").is_some() {
                    return Err(invalid(
                    "PORTCULLIS_JWT_SIGNING_KEY",
                    "is for EdDSA; set PORTCULLIS_JWT_ALGORITHM=EdDSA or use PORTCULLIS_JWT_SECRET",
                ));
                }
                let current = match get("PORTCULLIS_JWT_SECRET") {
                    Some(v) => hs256_secret("PORTCULLIS_JWT_SECRET", &v, production)?,
                    None if production => {
                        return Err(invalid(
                            "PORTCULLIS_JWT_SECRET",
                            "required in production (at least 32 random bytes)",
                        ))
                    }
                    // Development without configuration: tokens die with the process.
                    None => Secret::random(MIN_SECRET_BYTES),
                };
                let accepted = env
                    .list("PORTCULLIS_JWT_ACCEPTED_SECRETS")
                    .iter()
                    .map(|s| hs256_secret("PORTCULLIS_JWT_ACCEPTED_SECRETS", s, production))
                    .collect::<Result<_, _>>()?;
                Ok(SigningKeys::Hs256 { current, accepted })
            }
            "EdDSA" => {
                if get("PORTCULLIS_JWT_SECRET").is_some() {
                    return Err(invalid(
                        "PORTCULLIS_JWT_SECRET",
                        "is for HS256; EdDSA signs with PORTCULLIS_JWT_SIGNING_KEY",
                    ));
                }
                let current = match get("PORTCULLIS_JWT_SIGNING_KEY") {
                    Some(v) => Secret::new(key_bytes("PORTCULLIS_JWT_SIGNING_KEY", &v)?.to_vec()),
                    None if production => {
                        return Err(invalid(
                            "PORTCULLIS_JWT_SIGNING_KEY",
                            "required in production: run `portcullis generate-key` for one",
                        ))
                    }
                    None => Secret::random(32),
                };
                let accepted_public = env
                    .list("PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS")
                    .iter()
                    .map(|k| key_bytes("PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS", k))
                    .collect::<Result<_, _>>()?;
                Ok(SigningKeys::EdDsa {
                    current,
                    accepted_public,
                })
            }
            other => Err(invalid(
                "PORTCULLIS_JWT_ALGORITHM",
                format!("expected `HS256` or `EdDSA`, got `{other}`"),
            )),
        }
    }
}

fn hs256_secret(
    variable: &'static str,
    value: &str,
    production: bool,
) -> Result<Secret, ConfigError> {
    if production && (value.len() < MIN_SECRET_BYTES || !looks_random(value)) {
        return Err(invalid(
            variable,
            format!(
                "too weak: use at least {MIN_SECRET_BYTES} random bytes, \
                 e.g. `openssl rand -base64 32`"
            ),
        ));
    }
    Ok(Secret::new(value.as_bytes().to_vec()))
}

/// Whether a secret is about as hard to guess as random text: zxcvbn
/// (which sees repeats, runs, words, keyboard patterns) must estimate at
/// least 10^30 guesses. Its estimate tops out near 10^19, so the secret is
/// judged in pieces of 16 characters and the pieces' estimates multiplied:
/// a random 32-character secret reaches about 10^32, a passphrase of
/// common words or a padded pattern stays far below.
fn looks_random(secret: &str) -> bool {
    const MIN_GUESSES_LOG10: f64 = 30.0;
    let chars: Vec<char> = secret.chars().collect();
    let guesses_log10: f64 = chars
        .chunks(16)
        .map(|piece| zxcvbn::zxcvbn(&piece.iter().collect::<String>(), &[]).guesses_log10())
        .sum();
    guesses_log10 >= MIN_GUESSES_LOG10
}

/// An Ed25519 key (private seed or public key): 32 bytes, base64url.
fn key_bytes(variable: &'static str, value: &str) -> Result<[u8; 32], ConfigError> {
    URL_SAFE_NO_PAD
        .decode(value.trim().trim_end_matches('='))
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            invalid(
                variable,
                "expected 32 bytes in base64url, as `portcullis generate-key` prints",
            )
        })
}

#[derive(Debug, thiserror::Error)]
#[error("signing key unusable: {0}")]
pub struct KeyError(String);

impl KeyError {
    pub fn new(reason: impl std::fmt::Display) -> Self {
        Self(reason.to_string())
    }
}

pub struct KeySet {
    algorithm: Algorithm,
    signing_kid: String,
    signing: EncodingKey,
    /// The signing key's own verifier first, then the accepted older ones.
    verifying: Keys,
    /// Public keys as a JWK Set; empty for HS256, whose keys are secret.
    jwks: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac_kid(secret: &Secret) -> String {
    hs256_kid(secret.expose())
}

/// The public half of an Ed25519 private seed.
pub fn ed25519_public(seed: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes()
}

impl KeySet {
    pub fn new(keys: &SigningKeys) -> Result<Self, KeyError> {
        match keys {
            SigningKeys::Hs256 { current, accepted } => {
                let verifying =
                    Keys::hs256(std::iter::once(current).chain(accepted).map(Secret::expose));
                Ok(Self {
                    algorithm: Algorithm::HS256,
                    signing_kid: hmac_kid(current),
                    signing: EncodingKey::from_secret(current.expose()),
                    verifying,
                    jwks: json!({ "keys": [] }),
                })
            }
            SigningKeys::EdDsa {
                current,
                accepted_public,
            } => {
                let seed = <[u8; 32]>::try_from(current.expose())
                    .map_err(|_| KeyError("an Ed25519 key is 32 bytes".into()))?;
                let der = ed25519_dalek::SigningKey::from_bytes(&seed)
                    .to_pkcs8_der()
                    .map_err(|e| KeyError(e.to_string()))?;
                let public = ed25519_public(&seed);
                let publics: Vec<[u8; 32]> = std::iter::once(public)
                    .chain(accepted_public.iter().copied())
                    .collect();
                let verifying = Keys::ed25519(publics.iter()).map_err(KeyError::new)?;
                let jwks = publics
                    .iter()
                    .map(|p| {
                        json!({
                            "kty": "OKP",
                            "crv": "Ed25519",
                            "x": b64(p),
                            "kid": ed25519_kid(p),
                            "use": "sig",
                            "alg": "EdDSA",
                        })
                    })
                    .collect::<Vec<_>>();
                Ok(Self {
                    algorithm: Algorithm::EdDSA,
                    signing_kid: ed25519_kid(&public),
                    signing: EncodingKey::from_ed_der(der.as_bytes()),
                    verifying,
                    jwks: json!({ "keys": jwks }),
                })
            }
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key new tokens are signed with, and its `kid`.
    pub fn signing(&self) -> (&str, &EncodingKey) {
        (&self.signing_kid, &self.signing)
    }

    /// The keys that verify: the signing key's and the accepted older ones.
    pub fn verifying(&self) -> &Keys {
        &self.verifying
    }

    /// `{"keys": [...]}`, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// A fresh Ed25519 private seed and its public key, base64url, for
/// `portcullis generate-key`.
pub fn generate_ed25519() -> (String, String) {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    (b64(&seed), b64(&ed25519_public(&seed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_rfc_7638_thumbprints() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let x: [u8; 32] = x.try_into().unwrap();
        assert_eq!(
            ed25519_kid(&x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn the_rfc_8037_seed_gives_its_public_key() {
        let d = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let public = ed25519_public(&d.try_into().unwrap());
        assert_eq!(b64(&public), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    }

    #[test]
    fn production_secrets_must_look_random_not_only_be_long() {
        for weak in [
            "0123456789abcdef0123456789abcdef",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "passwordpasswordpasswordpassword",
            "qwertyuiopasdfghjklzxcvbnmqwertyuiop",
        ] {
            assert!(hs256_secret("S", weak, true).is_err(), "{weak}");
            assert!(
                hs256_secret("S", weak, false).is_ok(),
                "development takes it"
            );
        }
        for strong in [
            "kV3q9ZtX1mB7rP2wY8sL4nD6hF0gJ5cA",
            // `openssl rand -base64 32` and `-hex 32`
            "q3Jx0Zc2l7mYt8hR4pW1vN6sK9dF5gB2aE0uI7oL3yQ=",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ] {
            assert!(hs256_secret("S", strong, true).is_ok(), "{strong}");
        }
    }

    #[test]
    fn hs256_keys_publish_nothing() {
        let set = KeySet::new(&SigningKeys::Hs256 {
            current: Secret::new(vec![1; 32]),
            accepted: vec![Secret::new(vec![2; 32])],
        })
        .unwrap();
        assert_eq!(set.jwks(), &json!({ "keys": [] }));
        let (kid, _) = set.signing();
        assert!(set.verifying().contains(kid));
        assert!(set
            .verifying()
            .contains(&hmac_kid(&Secret::new(vec![2; 32]))));
        assert!(!set.verifying().contains("unknown"));
    }
}
