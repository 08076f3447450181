//! Keys from Portcullis's JWKS URL, fetched at start, again when a token
//! names a key not yet known (a rotation), and when they are old (a key
//! retired). Refetches are rate-limited, so a flood of tokens with made-up
//! `kid`s costs Portcullis one request per interval, not one per token.

use std::time::{Duration, SystemTime};

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

    /// Fetches again unless that happened within the interval (or, when
    /// `only_if_old`, unless the keys are younger than [`MAX_KEY_AGE`]).
    async fn refetch(&self, verifier: &Verifier, only_if_old: bool) {
        let mut state = self.state.lock().await;
        let (asked, fetched) = *state;
        let now = Instant::now();
        if now.duration_since(asked) < self.min_interval
            || only_if_old && now.duration_since(fetched) < MAX_KEY_AGE
        {
            return;
        }
        state.0 = now;
        // On failure the keys held stay; the next interval tries again.
        if let Ok(keys) = self.fetch().await {
            verifier.set_keys(keys);
            state.1 = now;
        }
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
        verifier.jwks = Some(std::sync::Arc::new(source));
        Ok(verifier)
    }

    /// [`Verifier::verify`], fetching the keys again first when the token
    /// names one not known yet or the keys are old.
    pub async fn verify_fetching(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<AccessClaims, VerifyError> {
        let Some(jwks) = &self.jwks else {
            return self.verify(token, now);
        };
        jwks.refetch(self, true).await;
        match self.verify(token, now) {
            Err(VerifyError::UnknownKey) => {
                // Another call may have just fetched them: try again either way.
                jwks.refetch(self, false).await;
                self.verify(token, now)
            }
            other => other,
        }
    }
}
