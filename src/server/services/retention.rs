//! What is kept and for how long: rows nobody can use any more go, in
//! small batches, by a background job every replica runs.

use chrono::{DateTime, TimeDelta, Utc};

use super::sessions::SessionPolicy;
use crate::server::{
    platform::env::{ConfigError, Env},
    store::{audit, db::Db, rate_limits, sessions},
};

/// Rows deleted per statement, so a purge never holds locks for long.
const BATCH: i64 = 500;
/// Throttling rows are kept this long after their last hit: longer than
/// sign-in failures are remembered (twice the longest block, a day at most).
const RATE_LIMIT_QUIET_FOR: TimeDelta = TimeDelta::days(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Audit events older than this are deleted.
    pub audit_retention: TimeDelta,
}

impl RetentionPolicy {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let days: u32 = env.number("PORTCULLIS_AUDIT_RETENTION_DAYS", 365, 1..=36_500)?;
        Ok(Self {
            audit_retention: TimeDelta::days(i64::from(days)),
        })
    }
}

/// How many rows of each kind one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub audit_events: u64,
    pub rate_limits: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.sessions + self.audit_events + self.rate_limits
    }
}

/// Deletes what has run out at `now`: ended sessions with their tokens,
/// audit events past retention,
/// quiet throttling counters. Safe to run on several replicas at once.
pub async fn purge(
    db: &Db,
    sessions_policy: &SessionPolicy,
    retention: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<Purged, sqlx::Error> {
    let idle_since = now - sessions_policy.idle_timeout;
    let audit_before = now - retention.audit_retention;
    Ok(Purged {
        sessions: in_batches(|| sessions::purge_ended(db, now, idle_since, BATCH)).await?,
        audit_events: in_batches(|| audit::purge_before(db, audit_before, BATCH)).await?,
        rate_limits: in_batches(|| rate_limits::purge(db, now - RATE_LIMIT_QUIET_FOR, now, BATCH))
            .await?,
    })
}

/// Runs `step` until a batch comes back short; returns the total.
async fn in_batches<F, Fut>(step: F) -> Result<u64, sqlx::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>>,
{
    let mut total = 0;
    loop {
        let done = step().await?;
        total += done;
        if done < BATCH as u64 {
            return Ok(total);
        }
    }
}
