//! The log of authorization changes that triggers write (migration 0006),
//! and on PostgreSQL the notifications that announce them.

use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::db::{with_pool, with_writer, Db};

/// The channel the triggers notify on.
const CHANNEL: &str = "portcullis_authz";

/// One change: what is known of this user (and of this session, when set)
/// may be out of date.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Change {
    pub seq: i64,
    pub at_ms: i64,
    pub user_id: Uuid,
    pub session_id: Option<Uuid>,
}

/// The newest change's number, 0 when there is none.
pub async fn latest_seq(db: &Db) -> Result<i64, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(seq) FROM authz_changes"
    )
    .fetch_one(pool)
    .await)
    .map(Option::unwrap_or_default)
}

/// The changes numbered after `after`, and those made since `since_ms`
/// whatever their number: on PostgreSQL numbers are taken before commit,
/// so a change can become visible after one numbered higher.
pub async fn since(db: &Db, after: i64, since_ms: i64) -> Result<Vec<Change>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, Change>(
        "SELECT seq, at_ms, user_id, session_id FROM authz_changes \
         WHERE seq > $1 OR at_ms > $2 ORDER BY seq"
    )
    .bind(after)
    .bind(since_ms)
    .fetch_all(pool)
    .await)
}

/// Deletes changes made before `before_ms`; returns how many went.
pub async fn purge_before(db: &Db, before_ms: i64) -> Result<u64, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM authz_changes WHERE at_ms < $1"
    )
    .bind(before_ms)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
}

/// PostgreSQL's announcements of new changes, on a connection of their
/// own. SQLite has none: one process writes, and it knows when it did.
pub struct Announcements(PgListener);

impl Announcements {
    /// Listens on `url` when it is a PostgreSQL database, else `None`.
    pub async fn listen(url: &str) -> Result<Option<Self>, sqlx::Error> {
        if url.starts_with("sqlite:") {
            return Ok(None);
        }
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Self(listener)))
    }

    /// Waits for the next announcement. `Ok(false)` means the connection
    /// was lost, so announcements may have been missed; the next call
    /// reconnects.
    pub async fn next(&mut self) -> Result<bool, sqlx::Error> {
        Ok(self.0.try_recv().await?.is_some())
    }
}
