//! Counter rows behind throttling. Every decision reads and writes the
//! database, so replicas sharing it enforce one limit between them.

use chrono::{DateTime, Utc};

use super::db::{with_pool, with_tx, with_writer, Db, TxConn, WriteTx};

/// A key's count after a hit, and when its counting window began.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Count {
    pub hits: i64,
    pub window_started_at: DateTime<Utc>,
}

/// What a hit came to.
#[derive(Debug, Clone, Copy)]
pub enum Hit {
    Counted(Count),
    /// The key had its `max` already; nothing was written.
    Refused {
        window_started_at: DateTime<Utc>,
    },
}

// `$3` is the cut-off: rows whose window began at or before it start over;
// `$4` the most hits a window takes. Over it the update matches nothing,
// so a refused request writes nothing. `$with` and `$row` let PostgreSQL
// commit the count asynchronously (see `hit`).
macro_rules! hit_sql {
    ($with:literal, $row:literal) => {
        concat!(
            $with,
            "INSERT INTO rate_limits (key, hits, window_started_at, last_hit_at) ",
            $row,
            " ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_started_at <= $3 THEN 1 \
                           ELSE rate_limits.hits + 1 END, \
               window_started_at = CASE WHEN rate_limits.window_started_at <= $3 THEN $2 \
                                        ELSE rate_limits.window_started_at END, \
               last_hit_at = $2 \
             WHERE rate_limits.window_started_at <= $3 OR rate_limits.hits < $4 \
             RETURNING hits, window_started_at"
        )
    };
    (sqlite) => {
        hit_sql!("", "VALUES ($1, 1, $2, $2)")
    };
    (postgres) => {
        hit_sql!(
            "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)) ",
            "SELECT $1, 1, $2, $2 FROM async_commit"
        )
    };
}

/// Counts one hit on `key` in the window that began after `cut_off`,
/// atomically, unless the window has had `max` already: then nothing is
/// written and the hit is refused.
///
/// On PostgreSQL the count commits without waiting for the WAL flush
/// (`synchronous_commit = off`, for this statement only). Every request
/// from one address updates one row, and a synchronous commit holds that
/// row's lock through the flush, so they queued at the disk's fsync rate:
/// in `make bench`, refreshes spent half their database time waiting on
/// this row. A crash can lose only the last moment of counts (at most
/// 3 × `wal_writer_delay`), and fewer: the next synchronous commit, such as
/// the audit event or the rotation that follows, flushes them too.
pub async fn hit(
    db: &Db,
    key: &str,
    max: i64,
    cut_off: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Hit, sqlx::Error> {
    let sql = match db {
        Db::Sqlite(_) => hit_sql!(sqlite),
        Db::Postgres(_) => hit_sql!(postgres),
    };
    let counted = with_writer!(db, |pool| sqlx::query_as::<_, Count>(sql)
        .bind(key)
        .bind(now)
        .bind(cut_off)
        .bind(max)
        .fetch_optional(pool)
        .await)?;
    if let Some(count) = counted {
        return Ok(Hit::Counted(count));
    }
    let window_started_at = with_pool!(db, |pool| sqlx::query_scalar::<_, DateTime<Utc>>(
        "SELECT window_started_at FROM rate_limits WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(pool)
    .await)?;
    Ok(Hit::Refused {
        window_started_at: window_started_at.unwrap_or(now),
    })
}

/// Deletes up to `batch` rows quiet since `quiet_since` whose block (if
/// any) has ended; returns how many.
pub async fn purge(
    db: &Db,
    quiet_since: DateTime<Utc>,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM rate_limits WHERE key IN ( \
           SELECT key FROM rate_limits WHERE last_hit_at < $1 \
             AND (blocked_until IS NULL OR blocked_until < $2) LIMIT $3)"
    )
    .bind(quiet_since)
    .bind(now)
    .bind(batch)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
}

/// A key's count and block, read under its row lock.
#[derive(Debug, Clone, sqlx::FromRow)]
struct KeyState {
    key: String,
    hits: i64,
    window_started_at: DateTime<Utc>,
    last_hit_at: DateTime<Utc>,
    blocked_until: Option<DateTime<Utc>>,
}

/// What claiming an attempt on several keys came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Key number `key` is blocked until then; nothing was counted.
    Refused { key: usize, until: DateTime<Utc> },
    /// Counted on every key; for each, the block this attempt imposed.
    Counted(Vec<Option<DateTime<Utc>>>),
}

/// Counts one attempt on every key of `keys`, in one transaction holding
/// their rows, before the attempt is made: so parallel attempts are
/// counted one after another, and each sees the blocks the ones before it
/// imposed. `block(i, hits)` says how long key `i` is blocked at its new
/// count. If any key is blocked, nothing is counted (a refused request
/// writes nothing). Counts last hit at or before `forget_before` start
/// over.
///
/// Two statements whatever the number of keys (it is on every sign-in's
/// path, before the hash): one creates or locks and reads every row, one
/// writes the new counts.
pub async fn claim(
    db: &Db,
    keys: &[&str],
    forget_before: DateTime<Utc>,
    now: DateTime<Utc>,
    block: &(dyn Fn(usize, i64) -> Option<DateTime<Utc>> + Sync),
) -> Result<Claim, sqlx::Error> {
    // Rows are locked in key order, so two claims never wait on each other
    // in a circle. A key given twice is counted once.
    let mut order: Vec<&str> = keys.to_vec();
    order.sort_unstable();
    order.dedup();
    if order.is_empty() {
        return Ok(Claim::Counted(Vec::new()));
    }
    let mut tx = db.write_tx().await?;
    let lock_sql = lock_rows_sql(db, order.len());
    let states = with_tx!(tx, |conn| {
        let mut query = sqlx::query_as::<_, KeyState>(&lock_sql).bind(now);
        for key in &order {
            query = query.bind(*key);
        }
        query.fetch_all(conn).await
    })?;
    // In lock order: the first blocked key is the one reported.
    let mut locked = Vec::with_capacity(order.len());
    for key in &order {
        let Some(state) = states.iter().find(|s| s.key == *key) else {
            continue;
        };
        if let Some(until) = state.blocked_until.filter(|until| *until > now) {
            // Nothing counted; the rows created for the claim go too.
            tx.rollback().await?;
            let index = keys.iter().position(|k| k == key).unwrap_or_default();
            return Ok(Claim::Refused { key: index, until });
        }
        locked.push(state);
    }
    let mut imposed = vec![None; keys.len()];
    let mut updates = Vec::with_capacity(locked.len());
    for state in locked {
        let index = keys
            .iter()
            .position(|k| *k == state.key)
            .unwrap_or_default();
        let starts_over = state.hits == 0 || state.last_hit_at <= forget_before;
        let (hits, window_started_at) = if starts_over {
            (1, now)
        } else {
            (state.hits + 1, state.window_started_at)
        };
        let until = block(index, hits);
        for (slot, key) in imposed.iter_mut().zip(keys) {
            if *key == state.key {
                *slot = until;
            }
        }
        updates.push((state.key.as_str(), hits, window_started_at, until));
    }
    if !updates.is_empty() {
        let update_sql = update_rows_sql(updates.len());
        with_tx!(tx, |conn| {
            let mut query = sqlx::query(&update_sql).bind(now);
            for (key, hits, window_started_at, until) in &updates {
                query = query
                    .bind(*key)
                    .bind(*hits)
                    .bind(*window_started_at)
                    .bind(*until);
            }
            query.execute(conn).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(Claim::Counted(imposed))
}

/// Creates each key's row or, through the no-op update, locks the one there
/// (on PostgreSQL; SQLite's write lock covers it), and reads it, in one
/// statement: no window for a purge to delete a row between. `$1` is now,
/// `$2…` the keys in lock order, which is byte order (PostgreSQL's "C"
/// collation), as in `LoginClaim::in_lock_order`. On PostgreSQL the transaction also stops
/// waiting for the WAL flush at commit: parallel claims wait on the row
/// locks, not on the disk, the count is visible at once, and a crash loses
/// at most its last moment (see `hit`).
fn lock_rows_sql(db: &Db, keys: usize) -> String {
    let placeholders = |row: &dyn Fn(usize) -> String| {
        (0..keys).map(|i| row(i + 2)).collect::<Vec<_>>().join(", ")
    };
    let (with, rows) = match db {
        Db::Sqlite(_) => (
            "",
            format!("VALUES {}", placeholders(&|n| format!("(${n}, 0, $1, $1)"))),
        ),
        Db::Postgres(_) => (
            "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)) ",
            format!(
                "SELECT k.column1, 0, $1, $1 FROM (VALUES {}) AS k CROSS JOIN async_commit \
                 ORDER BY k.column1 COLLATE \"C\"",
                placeholders(&|n| format!("(${n})"))
            ),
        ),
    };
    format!(
        "{with}INSERT INTO rate_limits (key, hits, window_started_at, last_hit_at) {rows} \
         ON CONFLICT (key) DO UPDATE SET key = excluded.key \
         RETURNING key, hits, window_started_at, last_hit_at, blocked_until"
    )
}

/// Writes each key's new count: `$1` is now, then per key its name, hits,
/// window start and block.
fn update_rows_sql(keys: usize) -> String {
    let rows = (0..keys)
        .map(|i| {
            let n = 2 + 4 * i;
            format!("(${}, ${}, ${}, ${})", n, n + 1, n + 2, n + 3)
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE rate_limits SET hits = v.column2, window_started_at = v.column3, \
         last_hit_at = $1, blocked_until = v.column4 \
         FROM (VALUES {rows}) AS v WHERE rate_limits.key = v.column1"
    )
}

/// How a claimed attempt's count on one key is settled once it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The count starts over (a count of 0 is a fresh start to `claim`),
    /// and no block stands.
    Clear,
    /// One attempt is taken back, and the block it imposed, if that block
    /// is still the one in force.
    Refund { imposed: Option<DateTime<Utc>> },
}

/// Settles several keys of one claim, in `tx`, in one statement: it is on
/// every successful sign-in's path. `keys` come in lock order (byte
/// order), and on PostgreSQL their rows are locked in that order first, as
/// `claim` locks them: taken in any other order they could deadlock with
/// the claims waiting on them.
pub async fn settle(tx: &mut WriteTx, keys: &[(&str, Settle)]) -> Result<(), sqlx::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let sql = settle_sql(matches!(tx.conn(), TxConn::Postgres(_)), keys.len());
    with_tx!(tx, |conn| {
        let mut query = sqlx::query(&sql);
        for (key, settle) in keys {
            let (refund, imposed) = match settle {
                Settle::Clear => (false, None),
                Settle::Refund { imposed } => (true, *imposed),
            };
            query = query.bind(*key).bind(refund).bind(imposed);
        }
        query.execute(conn).await.map(|_| ())
    })
}

/// Per key its name, whether it is a refund, and the block it imposed.
fn settle_sql(postgres: bool, keys: usize) -> String {
    let rows = (0..keys)
        .map(|i| {
            let n = 1 + 3 * i;
            format!("(${}, ${}, ${})", n, n + 1, n + 2)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let set = "SET hits = CASE WHEN v.column2 AND rate_limits.hits > 0 THEN rate_limits.hits - 1 \
                            ELSE 0 END, \
               blocked_until = CASE WHEN NOT v.column2 OR rate_limits.blocked_until = v.column3 \
                                    THEN NULL ELSE rate_limits.blocked_until END";
    if postgres {
        format!(
            "WITH v AS (VALUES {rows}), \
             locked AS MATERIALIZED (SELECT r.key FROM rate_limits r \
               WHERE r.key IN (SELECT column1 FROM v) ORDER BY r.key COLLATE \"C\" FOR UPDATE) \
             UPDATE rate_limits {set} FROM v, locked \
             WHERE rate_limits.key = v.column1 AND locked.key = v.column1"
        )
    } else {
        format!(
            "UPDATE rate_limits {set} FROM (VALUES {rows}) AS v WHERE rate_limits.key = v.column1"
        )
    }
}
