//! Counter rows behind throttling. Every decision reads and writes the
//! database, so replicas sharing it enforce one limit between them.

use chrono::{DateTime, Utc};

use super::db::{with_pool, with_writer, Db};

/// A key's count after a hit, and when its counting window began.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Count {
    pub hits: i64,
    pub window_started_at: DateTime<Utc>,
}

/// How a key's count starts over.
#[derive(Debug, Clone, Copy)]
pub enum Reset {
    /// When the window that began at the first hit is older than the cut-off.
    FixedWindow,
    /// When the last hit is older than the cut-off: a steady trickle of
    /// hits never starts over.
    AfterQuiet,
}

// `$3` is the cut-off: rows whose window (or last hit) began at or before
// it start over. `$with` and `$row` let PostgreSQL commit the count
// asynchronously (see `hit`).
macro_rules! hit_sql {
    ($with:literal, $row:literal, $column:literal) => {
        concat!(
            $with,
            "INSERT INTO rate_limits (key, hits, window_started_at, last_hit_at) ",
            $row,
            " ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN rate_limits.",
            $column,
            " <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
               window_started_at = CASE WHEN rate_limits.",
            $column,
            " <= $3 THEN $2 ELSE rate_limits.window_started_at END, \
               last_hit_at = $2 \
             RETURNING hits, window_started_at"
        )
    };
    (sqlite, $column:literal) => {
        hit_sql!("", "VALUES ($1, 1, $2, $2)", $column)
    };
    (postgres, $column:literal) => {
        hit_sql!(
            "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)) ",
            "SELECT $1, 1, $2, $2 FROM async_commit",
            $column
        )
    };
}

/// Counts one hit on `key`, atomically, and returns the new count.
///
/// On PostgreSQL the count commits without waiting for the WAL flush
/// (`synchronous_commit = off`, for this statement only). Every request
/// from one address updates one row, and a synchronous commit holds that
/// row's lock through the flush, so they queued at the disk's fsync rate:
/// in `make bench`, refreshes spent half their database time waiting on
/// this row. A crash can lose only the last moment of counts (at most
/// 3 × `wal_writer_delay`), and fewer: the next synchronous commit, such as
/// the audit event or the rotation that follows, flushes them too. Blocks
/// (`block_until`) stay synchronous.
pub async fn hit(
    db: &Db,
    key: &str,
    reset: Reset,
    cut_off: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Count, sqlx::Error> {
    let sql = match (db, reset) {
        (Db::Sqlite(_), Reset::FixedWindow) => hit_sql!(sqlite, "window_started_at"),
        (Db::Sqlite(_), Reset::AfterQuiet) => hit_sql!(sqlite, "last_hit_at"),
        (Db::Postgres(_), Reset::FixedWindow) => hit_sql!(postgres, "window_started_at"),
        (Db::Postgres(_), Reset::AfterQuiet) => hit_sql!(postgres, "last_hit_at"),
    };
    with_writer!(db, |pool| sqlx::query_as::<_, Count>(sql)
        .bind(key)
        .bind(now)
        .bind(cut_off)
        .fetch_one(pool)
        .await)
}

/// Refuses `key` until `until`; never shortens a block already in place.
pub async fn block_until(db: &Db, key: &str, until: DateTime<Utc>) -> Result<(), sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE rate_limits SET blocked_until = $2 \
         WHERE key = $1 AND (blocked_until IS NULL OR blocked_until < $2)"
    )
    .bind(key)
    .bind(until)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// The later of the blocks in force on `first` and `second`, if any.
pub async fn blocked_until(
    db: &Db,
    first: &str,
    second: &str,
    now: DateTime<Utc>,
) -> Result<Option<(String, DateTime<Utc>)>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, (String, DateTime<Utc>)>(
        "SELECT key, blocked_until FROM rate_limits \
         WHERE key IN ($1, $2) AND blocked_until > $3 \
         ORDER BY blocked_until DESC LIMIT 1"
    )
    .bind(first)
    .bind(second)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// Forgets `key` entirely.
pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM rate_limits WHERE key = $1"
    )
    .bind(key)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// Deletes rows quiet since `quiet_since` whose block (if any) has ended.
pub async fn purge(
    db: &Db,
    quiet_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM rate_limits WHERE last_hit_at < $1 \
         AND (blocked_until IS NULL OR blocked_until < $2)"
    )
    .bind(quiet_since)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
}
