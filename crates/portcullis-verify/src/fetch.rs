//! Keys from Portcullis's JWKS URL, fetched at start, again when a token
//! names a key not yet known (a rotation), and in the background when they
//! are old (a key retired). Refetches are rate-limited, so a flood of
//! tokens with made-up `kid`s costs Portcullis one request per interval,
//! not one per token; a token with a known key never waits for a fetch.

use std::{sync::RwLock, time::Duration};

use tokio::{sync::Mutex, time::Instant};

use crate::{error::VerifyError, keys::Keys};

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
    /// A source for `url`, with the keys it holds now.
    pub(crate) async fn new(
        url: String,
        min_interval: Duration,
    ) -> Result<(Self, Keys), VerifyError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        let now = Instant::now();
        // A rotation right after start may refetch at once.
        let asked = now.checked_sub(min_interval).unwrap_or(now);
        let source = Self {
            url,
            client,
            min_interval,
            state: Mutex::new((asked, now)),
        };
        let keys = source.fetch().await?;
        Ok((source, keys))
    }

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

    /// Fetches into `keys` again unless that happened within the interval.
    /// One fetch at a time: a caller that finds one under way waits for
    /// its keys.
    pub(crate) async fn refetch(&self, keys: &RwLock<Keys>) {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if now.duration_since(state.0) < self.min_interval {
            return;
        }
        state.0 = now;
        // On failure the keys held stay; the next interval tries again.
        if let Ok(fetched) = self.fetch().await {
            if let Ok(mut held) = keys.write() {
                *held = fetched;
            }
            state.1 = now;
        }
    }

    /// Whether the keys are old and no fetch is under way or recent.
    pub(crate) fn due(&self) -> bool {
        let Ok(state) = self.state.try_lock() else {
            return false;
        };
        let now = Instant::now();
        now.duration_since(state.1) >= MAX_KEY_AGE
            && now.duration_since(state.0) >= self.min_interval
    }
}
