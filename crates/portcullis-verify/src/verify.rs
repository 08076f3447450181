//! Checks a token: signature (by a key named in the header, with that
//! key's own algorithm), `typ`, issuer, audience and times.

use std::{
    sync::{Arc, RwLock},
    time::{SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{decode, decode_header, Validation};
use serde::de::DeserializeOwned;

use crate::error::VerifyError;
use crate::{
    claims::{AccessClaims, Subject, ACCESS_TOKEN_MEDIA_TYPE, ACCESS_TOKEN_TYPE, KIND_AGENT},
    keys::Keys,
};

/// Clock skew tolerated when checking `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

/// The access cookie's names over TLS: shared with a domain, and on
/// Portcullis's host only.
pub const DEFAULT_ACCESS_COOKIES: [&str; 2] =
    ["__Secure-portcullis_access", "__Host-portcullis_access"];

/// Verifies Portcullis's access tokens for one issuer and audience.
/// Cloning shares the keys.
#[derive(Clone, Debug)]
pub struct Verifier {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) keys: Arc<RwLock<Keys>>,
    /// The names the access cookie may have here.
    pub(crate) access_cookies: Vec<String>,
    #[cfg(feature = "fetch")]
    jwks: Option<Arc<crate::fetch::JwksSource>>,
    #[cfg(feature = "assertion")]
    pub(crate) assertion_audience: Option<String>,
}

pub(crate) fn unix_secs(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The registered claims every token checked here carries.
pub(crate) trait Timed {
    fn iat(&self) -> i64;
    fn nbf(&self) -> i64;
}

impl Timed for AccessClaims {
    fn iat(&self) -> i64 {
        self.iat
    }
    fn nbf(&self) -> i64 {
        self.nbf
    }
}

impl Verifier {
    /// `issuer` is Portcullis's public URL (`https://auth.example.com`),
    /// `audience` its `PORTCULLIS_TOKEN_AUDIENCE` (`portcullis` unless set).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, keys: Keys) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys: Arc::new(RwLock::new(keys)),
            access_cookies: DEFAULT_ACCESS_COOKIES
                .iter()
                .map(|&n| n.to_owned())
                .collect(),
            #[cfg(feature = "fetch")]
            jwks: None,
            #[cfg(feature = "assertion")]
            assertion_audience: None,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Reads the access cookie under `name` only. The default takes the
    /// two names Portcullis uses over TLS (`__Secure-portcullis_access`
    /// when shared with a domain, `__Host-portcullis_access` otherwise),
    /// which a page served without TLS cannot set; a development setup
    /// without TLS names `portcullis_access` here.
    pub fn with_access_cookie(mut self, name: impl Into<String>) -> Self {
        self.access_cookies = vec![name.into()];
        self
    }

    /// The names the access cookie is read under.
    pub fn access_cookies(&self) -> &[String] {
        &self.access_cookies
    }

    /// The claims of `token` if Portcullis signed it as an access token
    /// for this audience and it holds at `now`. A token whose principal
    /// is not one of [`Subject`]'s known ones is refused
    /// ([`VerifyError::Principal`]).
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<AccessClaims, VerifyError> {
        let claims = self.verify_allowing_expired(token, now)?;
        if claims.exp + LEEWAY_SECS <= unix_secs(now) {
            return Err(VerifyError::Expired);
        }
        Ok(claims)
    }

    /// Everything [`Verifier::verify`] checks but expiry: Portcullis itself
    /// reads the session of a lapsed token when it renews that session.
    pub fn verify_allowing_expired(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<AccessClaims, VerifyError> {
        let claims: AccessClaims =
            self.verify_signed(token, ACCESS_TOKEN_MEDIA_TYPE, Some(&self.audience), now)?;
        if claims.typ != ACCESS_TOKEN_TYPE {
            return Err(VerifyError::Invalid("wrong token type".into()));
        }
        if claims.subject() == Subject::Unknown {
            return Err(VerifyError::Principal(unknown_principal(&claims)));
        }
        Ok(claims)
    }

    /// Checks the header's `typ` and `kid`, the signature, the issuer,
    /// the audience (when given) and that the token has begun.
    pub(crate) fn verify_signed<C: DeserializeOwned + Timed>(
        &self,
        token: &str,
        media_type: &str,
        audience: Option<&str>,
        now: SystemTime,
    ) -> Result<C, VerifyError> {
        let header = decode_header(token).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if header.typ.as_deref() != Some(media_type) {
            return Err(VerifyError::Invalid(format!("not a {media_type} (typ)")));
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let keys = self
            .keys
            .read()
            .map_err(|_| VerifyError::Keys("a key update failed".into()))?;
        let (algorithm, key) = keys.find(&kid).ok_or(VerifyError::UnknownKey)?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Times are checked against the caller's clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = decode::<C>(token, key, &validation)
            .map_err(|e| VerifyError::Invalid(e.to_string()))?
            .claims;
        let latest_start = unix_secs(now).saturating_add(LEEWAY_SECS);
        if claims.nbf() > latest_start {
            return Err(VerifyError::Invalid("not valid yet (nbf)".into()));
        }
        if claims.iat() > latest_start {
            return Err(VerifyError::Invalid("issued in the future (iat)".into()));
        }
        Ok(claims)
    }

    /// Replaces the keys.
    pub fn set_keys(&self, keys: Keys) {
        if let Ok(mut held) = self.keys.write() {
            *held = keys;
        }
    }
}

/// Why [`AccessClaims::subject`] found no principal, for the logs.
fn unknown_principal(claims: &AccessClaims) -> String {
    match &claims.act {
        Some(_) if claims.kind == KIND_AGENT => "an actor (act) without a sub".to_owned(),
        Some(_) => format!("an actor (act) on a token of kind {:?}", claims.kind),
        None => format!("unknown kind {:?}", claims.kind),
    }
}

#[cfg(feature = "fetch")]
mod fetching {
    use std::{sync::Arc, time::Duration, time::SystemTime};

    use super::Verifier;
    use crate::{
        claims::AccessClaims,
        error::VerifyError,
        fetch::{JwksSource, MIN_REFETCH_INTERVAL},
    };

    impl Verifier {
        /// A verifier whose keys come from `jwks_url`
        /// (`https://auth.example.com/.well-known/jwks.json`), fetched now.
        pub async fn from_jwks_url(
            issuer: impl Into<String>,
            audience: impl Into<String>,
            jwks_url: impl Into<String>,
        ) -> Result<Self, VerifyError> {
            Self::from_jwks_url_with_interval(issuer, audience, jwks_url, MIN_REFETCH_INTERVAL)
                .await
        }

        /// Like [`Verifier::from_jwks_url`], refetching at most once per
        /// `min_interval`.
        pub async fn from_jwks_url_with_interval(
            issuer: impl Into<String>,
            audience: impl Into<String>,
            jwks_url: impl Into<String>,
            min_interval: Duration,
        ) -> Result<Self, VerifyError> {
            let (source, keys) = JwksSource::new(jwks_url.into(), min_interval).await?;
            let mut verifier = Self::new(issuer, audience, keys);
            verifier.jwks = Some(Arc::new(source));
            Ok(verifier)
        }

        /// [`Verifier::verify`], fetching the keys again when the token
        /// names one not known yet (and, in the background, when they are
        /// old).
        pub async fn verify_fetching(
            &self,
            token: &str,
            now: SystemTime,
        ) -> Result<AccessClaims, VerifyError> {
            self.with_fresh_keys(|verifier| verifier.verify(token, now))
                .await
        }

        /// Runs `check`; if it names an unknown key, once more after the
        /// keys are fetched again (unless that happened just now).
        pub(crate) async fn with_fresh_keys<T>(
            &self,
            check: impl Fn(&Self) -> Result<T, VerifyError>,
        ) -> Result<T, VerifyError> {
            let Some(jwks) = &self.jwks else {
                return check(self);
            };
            if jwks.due() {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let (jwks, keys) = (jwks.clone(), self.keys.clone());
                    runtime.spawn(async move { jwks.refetch(&keys).await });
                }
            }
            match check(self) {
                Err(VerifyError::UnknownKey) => {
                    // Another call may have just fetched them: check again
                    // whether or not this one did.
                    jwks.refetch(&self.keys).await;
                    check(self)
                }
                other => other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::keys::hs256_kid;
    use crate::testing::{at, human as claims, sign, verifier, SECRET};

    #[test]
    fn a_token_holds_from_its_start_until_its_expiry_and_leeway() {
        let token = sign(
            &claims(1_000_000),
            "at+jwt",
            Some(hs256_kid(SECRET)),
            SECRET,
        );
        let v = verifier();
        let c = v.verify(&token, at(1_000_000)).unwrap();
        assert!(c.has_role("support") && c.has_permission("users:read"));
        assert_eq!(c.attribute("team_id"), Some("t-7"));
        assert!(v.verify(&token, at(1_000_900 + LEEWAY_SECS - 1)).is_ok());
        assert_eq!(
            v.verify(&token, at(1_000_900 + LEEWAY_SECS)),
            Err(VerifyError::Expired)
        );
        assert!(v.verify(&token, at(1_000_000 - LEEWAY_SECS - 1)).is_err());
        assert!(v.verify_allowing_expired(&token, at(2_000_000)).is_ok());
    }

    #[test]
    fn everything_else_is_refused() {
        let kid = Some(hs256_kid(SECRET));
        let v = verifier();
        let now = at(1_000_000);
        let mut wrong_aud = claims(1_000_000);
        wrong_aud["aud"] = json!("another");
        let mut wrong_iss = claims(1_000_000);
        wrong_iss["iss"] = json!("https://evil.example");
        let mut wrong_typ = claims(1_000_000);
        wrong_typ["typ"] = json!("refresh");
        let other_secret = b"another-secret-another-secret-xx";
        for (token, why) in [
            (sign(&wrong_aud, "at+jwt", kid.clone(), SECRET), "audience"),
            (sign(&wrong_iss, "at+jwt", kid.clone(), SECRET), "issuer"),
            (sign(&wrong_typ, "at+jwt", kid.clone(), SECRET), "typ claim"),
            (
                sign(&claims(1_000_000), "JWT", kid.clone(), SECRET),
                "typ header",
            ),
            (sign(&claims(1_000_000), "at+jwt", None, SECRET), "no kid"),
            (
                sign(&claims(1_000_000), "at+jwt", kid.clone(), other_secret),
                "signature",
            ),
            ("garbage".to_owned(), "malformed"),
        ] {
            assert!(v.verify(&token, now).is_err(), "{why}");
        }
        let unknown = sign(&claims(1_000_000), "at+jwt", Some("nope".into()), SECRET);
        assert_eq!(v.verify(&unknown, now), Err(VerifyError::UnknownKey));
    }

    #[test]
    fn jwks_keys_must_be_named_by_their_thumbprint() {
        // RFC 8037 appendix A: its Ed25519 key and that key's thumbprint.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let kid = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
        let good = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid},
            {"kty": "RSA", "n": "x", "e": "AQAB"},
        ]});
        let keys = Keys::from_jwks(&good.to_string()).unwrap();
        assert!(keys.contains(kid));
        assert_eq!(keys.kids().count(), 1);
        let lying = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "other"}]});
        assert!(Keys::from_jwks(&lying.to_string()).is_err());
        assert!(Keys::from_jwks("{").is_err());
    }
}
