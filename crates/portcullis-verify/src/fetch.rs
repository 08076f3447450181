//! Keys from Portcullis's JWKS URL, fetched at start, again when a token
//! names a key not yet known (a rotation), and in the background when they
//! are old (a key retired). Refetches are rate-limited, so a flood of
//! tokens with made-up `kid`s costs Portcullis one request per interval,
//! not one per token; a token with a known key never waits for a fetch.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::{sync::Mutex, time::Instant};

use crate::{claims::AccessClaims, keys::Keys, verify::Verifier, VerifyError};

/// At most one refetch this often.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Keys are fetched again once they are this old.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(300);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct JwksSource {
    url: String,
    client: reqwest::Client,
    min_interval: Duration,
    /// When keys were last asked for, and last fetched.
    state: Mutex<(Instant, Instant)>,
}

impl JwksSource {
    async fn fetch(&self) -> Result<Keys, VerifyError> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        let body = response
            .text()
            .await
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        Keys::from_jwks(&body)
    }

    /// Fetches again unless that happened within the interval. One fetch
    /// at a time: a caller that finds one under way waits for its keys.
    async fn refetch(&self, verifier: &Verifier) {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if now.duration_since(state.0) < self.min_interval {
            return;
        }
        state.0 = now;
        // On failure the keys held stay; the next interval tries again.
        if let Ok(keys) = self.fetch().await {
            verifier.set_keys(keys);
            state.1 = now;
        }
    }

    /// Whether the keys are old and no fetch is under way or recent.
    fn due(&self) -> bool {
        let Ok(state) = self.state.try_lock() else {
            return false;
        };
        let now = Instant::now();
        now.duration_since(state.1) >= MAX_KEY_AGE
            && now.duration_since(state.0) >= self.min_interval
    }
}

impl Verifier {
    /// A verifier whose keys come from `jwks_url`
    /// (`https://auth.example.com/.well-known/jwks.json`), fetched now.
    pub async fn from_jwks_url(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_url: impl Into<String>,
    ) -> Result<Self, VerifyError> {
        Self::from_jwks_url_with_interval(issuer, audience, jwks_url, MIN_REFETCH_INTERVAL).await
    }

    /// Like [`Verifier::from_jwks_url`], refetching at most once per
    /// `min_interval`.
    pub async fn from_jwks_url_with_interval(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_url: impl Into<String>,
        min_interval: Duration,
    ) -> Result<Self, VerifyError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        let now = Instant::now();
        // A rotation right after start may refetch at once.
        let asked = now.checked_sub(min_interval).unwrap_or(now);
        let source = JwksSource {
            url: jwks_url.into(),
            client,
            min_interval,
            state: Mutex::new((asked, now)),
        };
        let keys = source.fetch().await?;
        let mut verifier = Self::new(issuer, audience, keys);
        verifier.jwks = Some(Arc::new(source));
        Ok(verifier)
    }

    /// [`Verifier::verify`], fetching the keys again when the token names
    /// one not known yet (and, in the background, when they are old).
    pub async fn verify_fetching(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<AccessClaims, VerifyError> {
        self.with_fresh_keys(|verifier| verifier.verify(token, now))
            .await
    }

    /// [`Verifier::verify_assertion`], fetching keys like
    /// [`Verifier::verify_fetching`].
    #[cfg(feature = "assertion")]
    pub async fn verify_assertion_fetching(
        &self,
        token: &str,
        host: &str,
        now: SystemTime,
    ) -> Result<crate::assertion::AssertionClaims, VerifyError> {
        self.with_fresh_keys(|verifier| verifier.verify_assertion(token, host, now))
            .await
    }

    async fn with_fresh_keys<T>(
        &self,
        check: impl Fn(&Self) -> Result<T, VerifyError>,
    ) -> Result<T, VerifyError> {
        let Some(jwks) = &self.jwks else {
            return check(self);
        };
        if jwks.due() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let (jwks, verifier) = (jwks.clone(), self.clone());
                runtime.spawn(async move { jwks.refetch(&verifier).await });
            }
        }
        match check(self) {
            Err(VerifyError::UnknownKey) => {
                // Another call may have just fetched them: check again
                // whether or not this one did.
                jwks.refetch(self).await;
                check(self)
            }
            other => other,
        }
    }
}
