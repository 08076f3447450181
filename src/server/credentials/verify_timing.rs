//! `portcullis verify-timing`: how long one access-token check takes,
//! through `portcullis-verify` as every service that trusts Portcullis
//! makes it, for each signing algorithm. `make bench` reports it.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use portcullis_verify::{Keys, Verifier};
use uuid::Uuid;

use super::{
    keys::{generate_ed25519, KeyError, KeySet, SigningKeys},
    tokens::{AccessTokens, TokenSubject},
};
use crate::server::{
    domain::grants::{Attributes, Grants},
    platform::secret::Secret,
};

/// Microseconds per verification, per algorithm, over `rounds` checks at
/// `now` of one token with the roles and permissions of an administrator.
pub fn verify_timing(
    rounds: u32,
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, f64)>, KeyError> {
    let (ed_private, _) = generate_ed25519();
    let ed_seed = base64_seed(&ed_private)?;
    let algorithms = [
        (
            "HS256",
            SigningKeys::Hs256 {
                current: Secret::random(32),
                accepted: Vec::new(),
            },
        ),
        (
            "EdDSA",
            SigningKeys::EdDsa {
                current: Secret::new(ed_seed),
                accepted_public: Vec::new(),
            },
        ),
    ];
    let grants = Grants::new(["admin"], []);
    let attributes = Attributes::new();
    let subject = TokenSubject {
        user_id: Uuid::new_v4(),
        email: "timing@example.com",
        grants: &grants,
        attributes: &attributes,
        authz_version: 1,
    };
    let issuer = "https://auth.example.com";
    let mut timings = Vec::new();
    for (name, keys) in algorithms {
        let tokens = AccessTokens::new(
            &keys,
            issuer.into(),
            "portcullis".into(),
            TimeDelta::minutes(15),
        )?;
        let (token, _) = tokens
            .issue(&subject, Uuid::new_v4(), now, now + TimeDelta::hours(1))
            .map_err(KeyError::new)?;
        let verifier = Verifier::new(issuer, "portcullis", verifying(&keys)?);
        let at = now.into();
        // Warm up, then time.
        for _ in 0..rounds / 10 {
            verifier.verify(&token, at).map_err(KeyError::new)?;
        }
        let started = Instant::now();
        for _ in 0..rounds {
            verifier.verify(&token, at).map_err(KeyError::new)?;
        }
        timings.push((
            name,
            started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds),
        ));
    }
    Ok(timings)
}

fn verifying(keys: &SigningKeys) -> Result<Keys, KeyError> {
    Ok(KeySet::new(keys)?.verifying().clone())
}

fn base64_seed(text: &str) -> Result<Vec<u8>, KeyError> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.decode(text).map_err(KeyError::new)
}
