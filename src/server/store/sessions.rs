//! Session rows: one per sign-in, shared by every refresh token of that
//! sign-in (its family). The row is the one place that says whether the
//! session is alive. Rotation and every revocation write it first, so its
//! row lock orders them: a revocation cannot miss a rotation in flight, and
//! a rotation after it finds the session revoked.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{with_pool, with_tx, with_writer, Db, WriteTx},
    users::{JoinedUser, UserRecord, JOINED_COLUMNS_WITHOUT_GRANTS},
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl SessionRecord {
    /// Not revoked, not past its end, and used since `idle_since`.
    pub fn is_live(&self, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.last_used_at > idle_since
    }
}

pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Inserts a session; `$1…$6` are its id, user, start, end, user agent
/// and address.
pub(super) const INSERT: &str =
    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
     VALUES ($1, $2, $3, $3, $4, $5, $6)";

macro_rules! bind_new_session {
    ($query:expr, $new:expr) => {
        $query
            .bind($new.id)
            .bind($new.user_id)
            .bind($new.created_at)
            .bind($new.expires_at)
            .bind($new.user_agent)
            .bind($new.ip)
    };
}
pub(super) use bind_new_session;

/// The session's columns, as `s.*`.
pub const COLUMNS: &str = "s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, \
    s.revoked_at, s.user_agent, s.ip";

#[derive(sqlx::FromRow)]
struct SessionAndUser {
    #[sqlx(flatten)]
    session: SessionRecord,
    #[sqlx(flatten)]
    user: JoinedUser,
}

/// A session of `user_id` that is neither revoked nor past its end, with
/// its user; what an access token's bearer is checked against, on every
/// request. The user's grants are not read (two aggregates): the caller
/// takes them from the token once its version is the user's
/// ([`UserRecord::with_grants`]).
pub async fn unrevoked_with_user(
    db: &Db,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<(SessionRecord, UserRecord)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, {JOINED_COLUMNS_WITHOUT_GRANTS} FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3"
    );
    let row = with_pool!(db, |pool| sqlx::query_as::<_, SessionAndUser>(&sql)
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|row| (row.session, row.user.into())))
}

/// Revokes a session; false when it was revoked already or never existed.
pub async fn revoke(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Revokes one of the user's live sessions; false when the user has no
/// such session (someone else's id included).
pub async fn revoke_for_user(
    db: &Db,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE sessions SET revoked_at = $1 \
         WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1"
    )
    .bind(now)
    .bind(id)
    .bind(user_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Revokes every session of a user but `keep` (the caller's own), inside
/// `tx`, so the change that calls for it commits together with it; returns
/// how many sessions it ended.
pub async fn revoke_all_but_in(
    tx: &mut WriteTx,
    user_id: Uuid,
    keep: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE sessions SET revoked_at = $1 \
         WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1 \
           AND ($3 IS NULL OR id <> $3)"
    )
    .bind(now)
    .bind(user_id)
    .bind(keep)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))
}

/// The user's live sessions, most recently used first.
pub async fn live_for_user(
    db: &Db,
    user_id: Uuid,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> Result<Vec<SessionRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions s \
         WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
           AND s.last_used_at > $3 \
         ORDER BY s.last_used_at DESC"
    );
    with_pool!(db, |pool| sqlx::query_as::<_, SessionRecord>(&sql)
        .bind(user_id)
        .bind(now)
        .bind(idle_since)
        .fetch_all(pool)
        .await)
}

/// How many sessions are live: not revoked, not past their end, used
/// since `idle_since`.
pub async fn count_live(
    db: &Db,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM sessions \
         WHERE revoked_at IS NULL AND expires_at > $1 AND last_used_at > $2";
    let count: i64 = with_pool!(db, |pool| sqlx::query_scalar(SQL)
        .bind(now)
        .bind(idle_since)
        .fetch_one(pool)
        .await)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Deletes up to `batch` sessions that can never be used again (revoked,
/// past their end, or idle since before `idle_since`) with their refresh
/// tokens; returns how many sessions went. Replicas may run it at once: on
/// PostgreSQL each skips the rows another is deleting.
pub async fn purge_ended(
    db: &Db,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    const ENDED: &str = "(revoked_at IS NOT NULL OR expires_at <= $1 OR last_used_at <= $2)";
    match db {
        Db::Postgres(pool) => {
            let sql = format!(
                "WITH ended AS (SELECT id FROM sessions WHERE {ENDED} \
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED), \
                 tokens AS (DELETE FROM refresh_tokens \
                   WHERE family_id IN (SELECT id FROM ended)) \
                 DELETE FROM sessions WHERE id IN (SELECT id FROM ended)"
            );
            sqlx::query(&sql)
                .bind(now)
                .bind(idle_since)
                .bind(batch)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        }
        Db::Sqlite(_) => {
            // The write lock holds the set of ended sessions still between
            // the two statements.
            let chosen = format!("SELECT id FROM sessions WHERE {ENDED} ORDER BY id LIMIT $3");
            let mut tx = db.write_tx().await?;
            with_tx!(tx, |conn| sqlx::query(&format!(
                "DELETE FROM refresh_tokens WHERE family_id IN ({chosen})"
            ))
            .bind(now)
            .bind(idle_since)
            .bind(batch)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
            let deleted = with_tx!(tx, |conn| sqlx::query(&format!(
                "DELETE FROM sessions WHERE id IN ({chosen})"
            ))
            .bind(now)
            .bind(idle_since)
            .bind(batch)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
            tx.commit().await?;
            Ok(deleted)
        }
    }
}
