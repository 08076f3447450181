//! Access tokens (short-lived JWTs, checked without the database) and
//! refresh tokens (opaque random strings, stored only as SHA-256 hashes).

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, TimeDelta, Utc};
use jsonwebtoken::{encode, Header};
use portcullis_verify::{Verifier, VerifyError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::keys::{KeyError, KeySet, SigningKeys};
use crate::{
    model::Permission,
    server::{
        domain::{
            grants::{Attributes, Grants},
            machines::AccountKind,
        },
        platform::env::{ConfigError, Env},
    },
};

use portcullis_verify::claims::{Actor, KIND_USER};

pub use portcullis_verify::{
    AccessClaims, ACCESS_TOKEN_MEDIA_TYPE, ACCESS_TOKEN_TYPE, LEEWAY_SECS,
};

/// What a verified access token says about its bearer. Its lists are
/// shared: every request of a session clones the one its token was
/// verified into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub email: Arc<str>,
    pub roles: Arc<[String]>,
    /// Those of the catalogue; names this build does not know are dropped.
    pub permissions: Arc<[Permission]>,
    pub authz_version: i64,
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// Whom an access token is for, and what they may do.
pub struct TokenSubject<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub grants: &'a Grants,
    pub attributes: &'a Attributes,
    pub authz_version: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("access token invalid: {0}")]
    Invalid(String),
    #[error("access token expired")]
    Expired,
    #[error("could not sign token: {0}")]
    Signing(String),
    /// A valid token, of a service account or an agent: not a person's.
    #[error("a machine's token")]
    NotAPerson,
}

/// How access tokens are made: signed with which keys, for whom, and for
/// how long they hold.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub signing_keys: SigningKeys,
    pub access_ttl: TimeDelta,
    /// The `aud` claim; services that accept the tokens check it.
    pub audience: String,
}

impl TokenConfig {
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        Ok(Self {
            signing_keys: SigningKeys::from_env(env, production)?,
            access_ttl: env.seconds(
                "PORTCULLIS_ACCESS_TOKEN_TTL_SECS",
                TimeDelta::minutes(15),
                1..=24 * 3600,
            )?,
            audience: env.string("PORTCULLIS_TOKEN_AUDIENCE", "portcullis"),
        })
    }
}

pub struct AccessTokens {
    keys: KeySet,
    /// The same check every service that trusts Portcullis makes.
    verifier: Verifier,
    /// What that check found for tokens seen lately.
    verified: VerifiedTokens,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl AccessTokens {
    pub fn new(
        keys: &SigningKeys,
        issuer: String,
        audience: String,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        let keys = KeySet::new(keys)?;
        let verifier = Verifier::new(issuer.clone(), audience.clone(), keys.verifying().clone());
        Ok(Self {
            keys,
            verifier,
            verified: VerifiedTokens::default(),
            issuer,
            audience,
            ttl,
        })
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &serde_json::Value {
        self.keys.jwks()
    }

    /// Signs a token for the user's session; it expires after the TTL or
    /// at `not_after` (the session's end), whichever comes first.
    pub fn issue(
        &self,
        subject: &TokenSubject<'_>,
        session_id: Uuid,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let expires_at = (now + self.ttl).min(not_after);
        let grants = subject.grants;
        let claims = AccessClaims {
            sub: subject.user_id.to_string(),
            kind: KIND_USER.to_owned(),
            client_id: None,
            act: None,
            scope: None,
            email: subject.email.to_owned(),
            role: grants.primary_role().to_owned(),
            roles: grants.roles.clone(),
            permissions: grants
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            attrs: (!subject.attributes.is_empty()).then(|| subject.attributes.clone()),
            ver: subject.authz_version,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().to_string(),
            sid: session_id.to_string(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
        };
        Ok((self.sign(&claims)?, expires_at))
    }

    /// Signs `claims` with the current key, as an access token (`at+jwt`).
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let (kid, key) = self.keys.signing();
        let mut header = Header::new(self.keys.algorithm());
        header.kid = Some(kid.to_owned());
        header.typ = Some(ACCESS_TOKEN_MEDIA_TYPE.to_owned());
        encode(&header, claims, key).map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Checks the signature (by a key still configured, with its own
    /// algorithm), issuer, audience, type and times, through
    /// `portcullis-verify`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, TokenError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.verified.get(&key, now) {
            return known;
        }
        let claims = self
            .verifier
            .verify(token, now.into())
            .map_err(|e| match e {
                VerifyError::Expired => TokenError::Expired,
                other => TokenError::Invalid(other.to_string()),
            })?;
        let principal = principal(&claims)?;
        self.verified
            .insert(key, &principal, claims.nbf.max(claims.iat), now);
        Ok(principal)
    }

    /// A service account's or agent's token (its own, or delegated to it
    /// by a user), checked as [`AccessTokens::verify`] checks a person's.
    pub fn verify_machine(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<MachineToken, TokenError> {
        let claims = self
            .verifier
            .verify(token, now.into())
            .map_err(|e| match e {
                VerifyError::Expired => TokenError::Expired,
                other => TokenError::Invalid(other.to_string()),
            })?;
        machine_token(&claims)
    }

    /// A person's token or a machine's, whichever `token` is.
    pub fn verify_any(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, TokenError> {
        match self.verify(token, now) {
            Ok(principal) => Ok(Verified::Person(principal)),
            Err(TokenError::NotAPerson) => self.verify_machine(token, now).map(Verified::Machine),
            Err(other) => Err(other),
        }
    }

    /// Signs a token for a service account or agent: for `audience` (a
    /// resource, RFC 8707) or else the usual one, for `ttl` but never past
    /// `not_after` (its key's expiry).
    pub fn issue_machine(
        &self,
        grant: &MachineGrant<'_>,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let expires_at = grant
            .not_after
            .map_or(now + grant.ttl, |end| (now + grant.ttl).min(end));
        let permissions: Vec<String> = grant
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let claims = AccessClaims {
            sub: grant.subject.to_string(),
            kind: grant.kind.as_str().to_owned(),
            client_id: Some(grant.client_id.to_string()),
            act: grant.actor.map(|agent| Actor {
                sub: agent.to_string(),
            }),
            scope: Some(permissions.join(" ")),
            email: grant.email.to_owned(),
            role: grant.kind.as_str().to_owned(),
            roles: Vec::new(),
            permissions,
            attrs: None,
            ver: 1,
            iss: self.issuer.clone(),
            aud: grant.audience.unwrap_or(&self.audience).to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().to_string(),
            sid: grant.credential.to_string(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
        };
        Ok((self.sign(&claims)?, expires_at))
    }

    /// The session of a token this service signed, expired or not: a
    /// refresh names the session it continues by the lapsed access token.
    pub fn session_of(&self, token: &str, now: DateTime<Utc>) -> Option<Uuid> {
        let claims = self
            .verifier
            .verify_allowing_expired(token, now.into())
            .ok()?;
        principal(&claims).ok().map(|p| p.session_id)
    }
}

/// Tokens that passed the check lately, by their SHA-256 (a token's hash
/// stands for its every byte: no other token shares it), with what they
/// said. Every request of a session carries the same token until it is
/// renewed, and a hash and a lookup cost a fraction of base64, JSON and a
/// signature (an Ed25519 one above all). Times are checked again at each
/// use; the keys never change while the process runs.
#[derive(Default)]
struct VerifiedTokens {
    known: std::sync::RwLock<std::collections::HashMap<[u8; 32], KnownToken>>,
}

struct KnownToken {
    principal: Principal,
    /// The later of `nbf` and `iat`.
    starts: i64,
}

/// Tokens remembered at most; past it, the expired ones go, then all.
const VERIFIED_CAPACITY: usize = 20_000;

impl VerifiedTokens {
    /// The verdict on a token seen before, if it was seen and has begun.
    fn get(&self, key: &[u8; 32], now: DateTime<Utc>) -> Option<Result<Principal, TokenError>> {
        let known = self.known.read().ok()?;
        let token = known.get(key)?;
        if token.principal.expires_at.timestamp() + LEEWAY_SECS <= now.timestamp() {
            return Some(Err(TokenError::Expired));
        }
        // Not begun yet at `now` (a clock moved back): the full check says why.
        (token.starts <= now.timestamp() + LEEWAY_SECS).then(|| Ok(token.principal.clone()))
    }

    fn insert(&self, key: [u8; 32], principal: &Principal, starts: i64, now: DateTime<Utc>) {
        let Ok(mut known) = self.known.write() else {
            return;
        };
        if known.len() >= VERIFIED_CAPACITY {
            let now = now.timestamp();
            known.retain(|_, t| t.principal.expires_at.timestamp() + LEEWAY_SECS > now);
            if known.len() >= VERIFIED_CAPACITY {
                known.clear();
            }
        }
        known.insert(
            key,
            KnownToken {
                principal: principal.clone(),
                starts,
            },
        );
    }
}

/// What the claims say, in this server's types.
fn principal(claims: &AccessClaims) -> Result<Principal, TokenError> {
    if claims.is_machine() {
        return Err(TokenError::NotAPerson);
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
        email: claims.email.as_str().into(),
        roles: claims.roles.as_slice().into(),
        permissions: claims
            .permissions
            .iter()
            .filter_map(|p| Permission::parse(p))
            .collect(),
        authz_version: claims.ver,
        expires_at,
    })
}

/// A token checked by [`AccessTokens::verify_any`].
#[derive(Debug, Clone)]
pub enum Verified {
    Person(Principal),
    Machine(MachineToken),
}

/// What a verified machine token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineToken {
    /// The account; in a delegated token, the user it acts for.
    pub subject: Uuid,
    pub kind: AccountKind,
    /// The service account or agent it was issued to.
    pub client_id: Uuid,
    /// The key it was made with; in a delegated token, the user's session.
    pub credential: Uuid,
    /// The agent, in a delegated token.
    pub actor: Option<Uuid>,
    pub permissions: Vec<Permission>,
    pub expires_at: DateTime<Utc>,
}

fn machine_token(claims: &AccessClaims) -> Result<MachineToken, TokenError> {
    let id = |text: &str, what: &str| {
        Uuid::parse_str(text).map_err(|_| TokenError::Invalid(format!("{what} is not an id")))
    };
    let kind = AccountKind::parse(&claims.kind)
        .ok_or_else(|| TokenError::Invalid("not a machine's token".into()))?;
    let client_id = id(claims.client_id.as_deref().unwrap_or_default(), "client_id")?;
    let actor = claims.act.as_ref().map(|a| id(&a.sub, "act")).transpose()?;
    // A delegated token is the agent's acting for a user: its actor is its client.
    if actor.is_some_and(|agent| agent != client_id)
        || (actor.is_some() && kind != AccountKind::Agent)
    {
        return Err(TokenError::Invalid("act does not name the client".into()));
    }
    Ok(MachineToken {
        subject: id(&claims.sub, "sub")?,
        kind,
        client_id,
        credential: id(&claims.sid, "sid")?,
        actor,
        permissions: claims
            .permissions
            .iter()
            .filter_map(|p| Permission::parse(p))
            .collect(),
        expires_at: DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| TokenError::Invalid("exp out of range".into()))?,
    })
}

/// Whom a machine token is for, and what it may do.
pub struct MachineGrant<'a> {
    /// The account; for a delegated token, the user.
    pub subject: Uuid,
    pub kind: AccountKind,
    pub client_id: Uuid,
    /// The user's email in a delegated token, else empty.
    pub email: &'a str,
    pub permissions: &'a [Permission],
    /// The key it is made with, or the user's session it is delegated from.
    pub credential: Uuid,
    /// The agent, when a user delegates to it.
    pub actor: Option<Uuid>,
    pub audience: Option<&'a str>,
    pub ttl: TimeDelta,
    pub not_after: Option<DateTime<Utc>>,
}

/// A fresh access token and refresh token, with when each runs out.
pub struct TokenPair {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: RefreshToken,
    pub refresh_expires_at: DateTime<Utc>,
}

// By hand, so neither token can be printed.
impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

impl TokenPair {
    /// Seconds the access token has left at `now`, never negative.
    pub fn access_expires_in_secs(&self, now: DateTime<Utc>) -> i64 {
        (self.access_expires_at - now).num_seconds().max(0)
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

    /// This token, sealed so that only a holder of `parent` (the token it
    /// replaces) can open it again: XOR with a hash of the parent, which
    /// is random and used once. Stored with this token until it is rotated
    /// in turn, it lets a second presentation of the parent get this same
    /// successor instead of a second, independent one. `None` only for a
    /// token not made here.
    pub fn seal_for(&self, parent: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        let pad = seal_pad(parent);
        (bytes.len() == pad.len()).then(|| bytes.iter().zip(pad).map(|(b, p)| b ^ p).collect())
    }

    /// The successor sealed by [`seal_for`](Self::seal_for) with `parent`.
    pub fn unseal(seal: &[u8], parent: &str) -> Option<Self> {
        let pad = seal_pad(parent);
        if seal.len() != pad.len() {
            return None;
        }
        let bytes: Vec<u8> = seal.iter().zip(pad).map(|(b, p)| b ^ p).collect();
        Some(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// Distinct from the stored hash of the same token, which is public to
/// anyone who can read the database.
fn seal_pad(parent: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"portcullis successor seal\0")
        .chain_update(parent.as_bytes())
        .finalize()
        .into()
}

/// The only form in which refresh tokens are stored.
pub fn hash_refresh_token(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::decode_header;

    use super::*;
    use crate::server::platform::secret::Secret;

    fn hs256(secret: u8, accepted: &[u8], issuer: &str, audience: &str) -> AccessTokens {
        let keys = SigningKeys::Hs256 {
            current: Secret::new(vec![secret; 32]),
            accepted: accepted.iter().map(|b| Secret::new(vec![*b; 32])).collect(),
        };
        AccessTokens::new(&keys, issuer.into(), audience.into(), Duration::minutes(15)).unwrap()
    }

    fn eddsa(seed: u8, accepted: &[u8]) -> AccessTokens {
        let keys = SigningKeys::EdDsa {
            current: Secret::new(vec![seed; 32]),
            accepted_public: accepted
                .iter()
                .map(|b| super::super::keys::ed25519_public(&[*b; 32]))
                .collect(),
        };
        AccessTokens::new(
            &keys,
            "http://issuer".into(),
            "portcullis".into(),
            Duration::minutes(15),
        )
        .unwrap()
    }

    /// A fixed moment: tests do not read the system clock.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    /// A session end too far off to matter.
    fn far(now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::days(7)
    }

    fn tokens() -> AccessTokens {
        hs256(7, &[], "http://issuer", "portcullis")
    }

    fn subject(user_id: Uuid) -> TokenSubject<'static> {
        static GRANTS: std::sync::LazyLock<Grants> =
            std::sync::LazyLock::new(|| Grants::new([], []));
        static ATTRIBUTES: Attributes = Attributes::new();
        TokenSubject {
            user_id,
            email: "a@example.com",
            grants: &GRANTS,
            attributes: &ATTRIBUTES,
            authz_version: 1,
        }
    }

    fn mint(t: &AccessTokens, now: DateTime<Utc>) -> String {
        t.issue(&subject(Uuid::new_v4()), Uuid::new_v4(), now, far(now))
            .unwrap()
            .0
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let t = tokens();
        let now = now();
        let id = Uuid::new_v4();
        let (jwt, exp) = t
            .issue(&subject(id), Uuid::new_v4(), now, far(now))
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
        let now = now();
        let id = Uuid::new_v4();
        let other_key = hs256(8, &[], "http://issuer", "portcullis");
        let other_iss = hs256(7, &[], "http://elsewhere", "portcullis");
        let other_aud = hs256(7, &[], "http://issuer", "another-service");
        for minted_by in [other_key, other_iss, other_aud, eddsa(7, &[])] {
            let (jwt, _) = minted_by
                .issue(&subject(id), Uuid::new_v4(), now, far(now))
                .unwrap();
            assert!(matches!(
                tokens().verify(&jwt, now),
                Err(TokenError::Invalid(_))
            ));
        }
    }

    #[test]
    fn older_keys_verify_until_removed_and_new_tokens_use_the_current_key() {
        let now = now();
        for (old, rotated, removed) in [
            (
                hs256(1, &[], "http://issuer", "portcullis"),
                hs256(2, &[1], "http://issuer", "portcullis"),
                hs256(2, &[], "http://issuer", "portcullis"),
            ),
            (eddsa(1, &[]), eddsa(2, &[1]), eddsa(2, &[])),
        ] {
            let old_token = mint(&old, now);
            assert!(rotated.verify(&old_token, now).is_ok());
            assert!(matches!(
                removed.verify(&old_token, now),
                Err(TokenError::Invalid(_))
            ));
            // New tokens carry the new key's kid, so the old set rejects them.
            let new_token = mint(&rotated, now);
            assert!(removed.verify(&new_token, now).is_ok());
            assert!(old.verify(&new_token, now).is_err());
        }
    }

    /// The README gives these sizes: a token with 5 roles, every
    /// permission and 16 attributes (the most), signed with EdDSA.
    #[test]
    fn a_token_with_5_roles_and_16_attributes_stays_small() {
        let roles = ["admin", "auditor", "billing", "support", "team-lead"];
        let grants = Grants::new(roles, []);
        let sized = |value_len: usize| {
            let attributes: Attributes = (0..16)
                .map(|i| (format!("attribute_{i:02}"), "v".repeat(value_len)))
                .collect();
            let subject = TokenSubject {
                user_id: Uuid::new_v4(),
                email: "someone.with.a.long.name@example.com",
                grants: &grants,
                attributes: &attributes,
                authz_version: 12,
            };
            let now = now();
            eddsa(1, &[])
                .issue(&subject, Uuid::new_v4(), now, far(now))
                .unwrap()
                .0
                .len()
        };
        // Values of 16 bytes, and of 52: the 1 KiB limit all used.
        let (typical, largest) = (sized(16), sized(52));
        println!("token sizes: typical {typical} B, largest {largest} B");
        // Well under the 4 KiB a cookie may hold (1605 B with the 7
        // permissions of the catalogue since `agents:manage`).
        assert!(typical <= 1650, "{typical} bytes");
        assert!(largest <= 2400, "{largest} bytes");
    }

    #[test]
    fn a_token_without_a_kid_or_with_another_algorithm_fails() {
        let now = now();
        let claims = AccessClaims {
            sub: Uuid::new_v4().to_string(),
            kind: KIND_USER.into(),
            client_id: None,
            act: None,
            scope: None,
            email: "a@example.com".into(),
            role: "user".into(),
            roles: vec!["user".into()],
            permissions: Vec::new(),
            attrs: None,
            ver: 1,
            iss: "http://issuer".into(),
            aud: "portcullis".into(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + 60,
            jti: "x".into(),
            sid: Uuid::new_v4().to_string(),
            typ: ACCESS_TOKEN_TYPE.into(),
        };
        let key = jsonwebtoken::EncodingKey::from_secret(&[7; 32]);
        let bare = encode(&Header::default(), &claims, &key).unwrap();
        assert!(matches!(
            tokens().verify(&bare, now),
            Err(TokenError::Invalid(_))
        ));
        // An HS256 token under the kid of an EdDSA key: algorithm confusion.
        let ed = eddsa(7, &[]);
        let header = Header {
            kid: decode_header(mint(&ed, now)).unwrap().kid,
            ..Header::default()
        };
        let confused = encode(&header, &claims, &key).unwrap();
        assert!(matches!(
            ed.verify(&confused, now),
            Err(TokenError::Invalid(_))
        ));
    }

    /// Claims as `issue` makes them, signed under `t`'s kid with `typ`.
    fn forge(t: &AccessTokens, claims: &AccessClaims, typ: &str) -> String {
        let header = Header {
            kid: decode_header(mint(t, now())).unwrap().kid,
            typ: Some(typ.into()),
            ..Header::default()
        };
        encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&[7; 32]),
        )
        .unwrap()
    }

    fn claims_at(iat: i64, nbf: i64, exp: i64) -> AccessClaims {
        AccessClaims {
            sub: Uuid::new_v4().to_string(),
            kind: KIND_USER.into(),
            client_id: None,
            act: None,
            scope: None,
            email: "a@example.com".into(),
            role: "user".into(),
            roles: vec!["user".into()],
            permissions: Vec::new(),
            attrs: None,
            ver: 1,
            iss: "http://issuer".into(),
            aud: "portcullis".into(),
            iat,
            nbf,
            exp,
            jti: "x".into(),
            sid: Uuid::new_v4().to_string(),
            typ: ACCESS_TOKEN_TYPE.into(),
        }
    }

    #[test]
    fn access_tokens_say_at_jwt_and_other_jwts_fail() {
        let t = tokens();
        let now = now();
        let header = decode_header(mint(&t, now)).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let claims = claims_at(now.timestamp(), now.timestamp(), now.timestamp() + 60);
        assert!(t.verify(&forge(&t, &claims, "at+jwt"), now).is_ok());
        for typ in ["JWT", "jwt", "id+jwt"] {
            assert!(matches!(
                t.verify(&forge(&t, &claims, typ), now),
                Err(TokenError::Invalid(_))
            ));
        }
    }

    #[test]
    fn a_token_not_yet_valid_or_issued_in_the_future_fails() {
        let t = tokens();
        let now = now();
        let n = now.timestamp();
        let issued = t.verify(&mint(&t, now), now).unwrap();
        assert!(issued.expires_at > now);
        // Within the leeway, skew is tolerated; beyond it, refused.
        let skewed = claims_at(n + LEEWAY_SECS, n + LEEWAY_SECS, n + 600);
        assert!(t.verify(&forge(&t, &skewed, "at+jwt"), now).is_ok());
        for claims in [
            claims_at(n, n + LEEWAY_SECS + 1, n + 600),
            claims_at(n + LEEWAY_SECS + 1, n, n + 600),
        ] {
            assert!(matches!(
                t.verify(&forge(&t, &claims, "at+jwt"), now),
                Err(TokenError::Invalid(_))
            ));
        }
        // Issued tokens carry nbf = iat.
        let jwt = mint(&t, now);
        let data = jsonwebtoken::dangerous::insecure_decode::<AccessClaims>(&jwt).unwrap();
        assert_eq!(data.claims.nbf, data.claims.iat);
    }

    #[test]
    fn access_tokens_never_outlive_their_session() {
        let t = tokens();
        let now = now();
        let session_end = now + Duration::minutes(3);
        let (jwt, exp) = t
            .issue(&subject(Uuid::new_v4()), Uuid::new_v4(), now, session_end)
            .unwrap();
        assert_eq!(exp, session_end);
        assert_eq!(t.verify(&jwt, now).unwrap().expires_at, session_end);
    }

    #[test]
    fn the_session_of_a_lapsed_token_is_still_known() {
        let t = tokens();
        let now = now();
        let session = Uuid::new_v4();
        let (jwt, exp) = t
            .issue(&subject(Uuid::new_v4()), session, now, far(now))
            .unwrap();
        let later = exp + Duration::hours(1);
        assert_eq!(t.verify(&jwt, later), Err(TokenError::Expired));
        assert_eq!(t.session_of(&jwt, later), Some(session));
        assert_eq!(tokens().session_of("garbage", now), None);
        let other = hs256(8, &[], "http://issuer", "portcullis");
        assert_eq!(other.session_of(&jwt, now), None);
    }

    #[test]
    fn a_sealed_successor_opens_only_with_its_parent() {
        let parent = RefreshToken::generate();
        let successor = RefreshToken::generate();
        let seal = successor.seal_for(parent.expose()).unwrap();
        // The seal is neither the token nor its stored hash.
        assert_ne!(seal, successor.hash());
        assert_ne!(seal, URL_SAFE_NO_PAD.decode(successor.expose()).unwrap());
        let opened = RefreshToken::unseal(&seal, parent.expose()).unwrap();
        assert_eq!(opened.expose(), successor.expose());
        let other = RefreshToken::generate();
        let wrong = RefreshToken::unseal(&seal, other.expose()).unwrap();
        assert_ne!(wrong.expose(), successor.expose());
        assert!(RefreshToken::unseal(&seal[1..], parent.expose()).is_none());
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

    #[test]
    fn a_token_pair_never_prints_its_tokens() {
        let t = tokens();
        let (access_token, access_expires_at) = t
            .issue(&subject(Uuid::new_v4()), Uuid::new_v4(), now(), far(now()))
            .unwrap();
        let pair = TokenPair {
            access_token: access_token.clone(),
            access_expires_at,
            refresh_token: RefreshToken::generate(),
            refresh_expires_at: access_expires_at,
        };
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&access_token), "{shown}");
        assert!(!shown.contains(pair.refresh_token.expose()), "{shown}");
    }
}
