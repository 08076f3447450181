//! `X-Portcullis-Assertion`: the short JWT forward-auth adds beside the
//! identity headers, its audience the host the request was for. A service
//! behind the gateway that checks it knows the headers came through the
//! gate and not from a client that found another way in.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::{
    error::VerifyError,
    verify::{unix_secs, Timed, Verifier, LEEWAY_SECS},
};

/// The header forward-auth sets.
pub const ASSERTION_HEADER: &str = "x-portcullis-assertion";
/// The header's `typ`.
pub const ASSERTION_MEDIA_TYPE: &str = "portcullis-assertion+jwt";
/// The longest an assertion is made to hold.
pub const ASSERTION_MAX_LIFETIME_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    /// The user's id.
    pub sub: String,
    /// The host the request was for.
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub email: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The user's attributes, when there are any.
    #[serde(default)]
    pub attrs: Option<crate::claims::Attributes>,
}

impl Timed for AssertionClaims {
    fn iat(&self) -> i64 {
        self.iat
    }
    fn nbf(&self) -> i64 {
        self.nbf
    }
}

impl Verifier {
    /// Assertions are checked for this host (the service's own name, as
    /// the gateway saw it): never take it from the request.
    pub fn expecting_assertions_for(mut self, host: impl Into<String>) -> Self {
        self.assertion_audience = Some(host.into().to_ascii_lowercase());
        self
    }

    /// The claims of an assertion Portcullis made for `host`, holding at
    /// `now`.
    pub fn verify_assertion(
        &self,
        token: &str,
        host: &str,
        now: SystemTime,
    ) -> Result<AssertionClaims, VerifyError> {
        let claims: AssertionClaims =
            self.verify_signed(token, ASSERTION_MEDIA_TYPE, Some(host), now)?;
        if claims.exp + LEEWAY_SECS <= unix_secs(now) {
            return Err(VerifyError::Expired);
        }
        if claims.exp - claims.iat > ASSERTION_MAX_LIFETIME_SECS {
            return Err(VerifyError::Invalid(
                "an assertion lives a minute at most".into(),
            ));
        }
        Ok(claims)
    }

    /// [`Verifier::verify_assertion`], fetching keys like
    /// [`Verifier::verify_fetching`].
    #[cfg(feature = "fetch")]
    pub async fn verify_assertion_fetching(
        &self,
        token: &str,
        host: &str,
        now: SystemTime,
    ) -> Result<AssertionClaims, VerifyError> {
        self.with_fresh_keys(|verifier| verifier.verify_assertion(token, host, now))
            .await
    }

    /// The host set by [`Verifier::expecting_assertions_for`].
    pub fn assertion_audience(&self) -> Option<&str> {
        self.assertion_audience.as_deref()
    }
}
