//! Refresh-token rows. One family per sign-in; every refresh adds a row
//! linked to its parent, and rotation marks the parent used, atomically.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{with_pool, with_tx, with_writer, Db, SqlitePools, WriteTx},
    users::UserRecord,
};
use crate::server::domain::events::{EventType, Outcome};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRecord {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub issued_at: DateTime<Utc>,
    /// The family's absolute end, copied onto every row of it.
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewRefresh<'a> {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub parent_id: Option<Uuid>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

const INSERT: &str = "INSERT INTO refresh_tokens \
    (id, family_id, user_id, token_hash, parent_id, issued_at, expires_at, user_agent, ip) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

macro_rules! bind_new {
    ($query:expr, $new:expr) => {
        $query
            .bind($new.id)
            .bind($new.family_id)
            .bind($new.user_id)
            .bind($new.token_hash)
            .bind($new.parent_id)
            .bind($new.issued_at)
            .bind($new.expires_at)
            .bind($new.user_agent)
            .bind($new.ip)
    };
}

pub async fn insert(db: &Db, new: &NewRefresh<'_>) -> Result<(), sqlx::Error> {
    with_writer!(db, |pool| bind_new!(sqlx::query(INSERT), new)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// Inserts `new` unless its family has been revoked (a sign-out or reuse
/// detection racing this request); returns whether it was inserted.
pub async fn insert_unless_revoked(db: &Db, new: &NewRefresh<'_>) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO refresh_tokens \
        (id, family_id, user_id, token_hash, parent_id, issued_at, expires_at, user_agent, ip) \
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
        WHERE NOT EXISTS \
          (SELECT 1 FROM refresh_tokens WHERE family_id = $2 AND revoked_at IS NOT NULL)";
    with_writer!(db, |pool| bind_new!(sqlx::query(SQL), new)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))
}

pub async fn find_by_hash(
    db: &Db,
    token_hash: &[u8],
) -> Result<Option<RefreshRecord>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, RefreshRecord>(
        "SELECT id, family_id, user_id, issued_at, expires_at, rotated_at, revoked_at \
         FROM refresh_tokens WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await)
}

/// A refresh token together with the user it belongs to: what a rotation
/// needs, read in one round trip.
#[derive(Debug)]
pub struct TokenAndUser {
    pub token: RefreshRecord,
    pub user: UserRecord,
}

#[derive(sqlx::FromRow)]
struct TokenAndUserRow {
    id: Uuid,
    family_id: Uuid,
    user_id: Uuid,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    u_email: String,
    u_password_hash: Option<String>,
    u_display_name: String,
    u_role: String,
    u_disabled: bool,
    u_created_at: DateTime<Utc>,
    u_updated_at: DateTime<Utc>,
}

impl From<TokenAndUserRow> for TokenAndUser {
    fn from(row: TokenAndUserRow) -> Self {
        Self {
            user: UserRecord {
                id: row.user_id,
                email: row.u_email,
                password_hash: row.u_password_hash,
                display_name: row.u_display_name,
                role: row.u_role,
                disabled: row.u_disabled,
                created_at: row.u_created_at,
                updated_at: row.u_updated_at,
            },
            token: RefreshRecord {
                id: row.id,
                family_id: row.family_id,
                user_id: row.user_id,
                issued_at: row.issued_at,
                expires_at: row.expires_at,
                rotated_at: row.rotated_at,
                revoked_at: row.revoked_at,
            },
        }
    }
}

pub async fn find_with_user(
    db: &Db,
    token_hash: &[u8],
) -> Result<Option<TokenAndUser>, sqlx::Error> {
    let row = with_pool!(db, |pool| sqlx::query_as::<_, TokenAndUserRow>(
        "SELECT t.id, t.family_id, t.user_id, t.issued_at, t.expires_at, t.rotated_at, \
                t.revoked_at, u.email AS u_email, u.password_hash AS u_password_hash, \
                u.display_name AS u_display_name, u.role AS u_role, u.disabled AS u_disabled, \
                u.created_at AS u_created_at, u.updated_at AS u_updated_at \
         FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(TokenAndUser::from))
}

/// Inserts `successor`, marks `parent_id` rotated and records the refresh
/// in the audit log, all or nothing. Returns false, changing
/// nothing, when the parent was already rotated or revoked: another
/// request won the race.
pub async fn rotate(
    db: &Db,
    parent_id: Uuid,
    successor: &NewRefresh<'_>,
    now: DateTime<Utc>,
    audit_details: serde_json::Value,
) -> Result<bool, sqlx::Error> {
    // The rows stand for the parent and the time of rotation.
    let successor = NewRefresh {
        parent_id: Some(parent_id),
        issued_at: now,
        ..*successor
    };
    match db {
        Db::Sqlite(pools) => rotate_sqlite(pools, &successor, audit_details).await,
        Db::Postgres(pool) => {
            let rotated = bind_new!(sqlx::query_scalar::<_, i64>(ROTATE_POSTGRES), successor)
                .bind(EventType::Refresh.as_str())
                .bind(Outcome::Success.as_str())
                .bind(sqlx::types::Json(audit_details))
                .fetch_one(pool)
                .await?;
            Ok(rotated == 1)
        }
    }
}

/// PostgreSQL's rotation as one statement: mark the parent, insert its
/// successor, audit it, each only if the step before touched a row. One
/// statement commits or rolls back as a whole on the server, so a request
/// dropped half-way (the client went away) cannot leave a transaction
/// idle and holding the parent's row lock until its connection is reused,
/// as a dropped sqlx transaction does. A concurrent rotation of the same
/// parent waits for the row lock, then finds it rotated and matches nothing.
const ROTATE_POSTGRES: &str = "WITH parent AS ( \
      UPDATE refresh_tokens SET rotated_at = $6, successor_id = $1 \
      WHERE id = $5 AND rotated_at IS NULL AND revoked_at IS NULL RETURNING id), \
    successor AS ( \
      INSERT INTO refresh_tokens \
        (id, family_id, user_id, token_hash, parent_id, issued_at, expires_at, user_agent, ip) \
      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM parent RETURNING id), \
    audited AS ( \
      INSERT INTO audit_events (event_type, user_id, ip, user_agent, outcome, details, created_at) \
      SELECT $10, $3, $9, $8, $11, $12, $6 FROM successor RETURNING 1) \
    SELECT COUNT(*) FROM audited";

/// SQLite's rotation as one batch, so the single writer connection is
/// held for one hop to its worker thread rather than five (the profile of
/// `make bench` showed the writer idle between statements, waiting for the
/// request's task to be scheduled). Each statement runs only if the one
/// before it changed a row; the write lock taken by `BEGIN IMMEDIATE`
/// keeps the parent's state fixed throughout.
const ROTATE_SQLITE: &str = "BEGIN IMMEDIATE; \
    INSERT INTO refresh_tokens \
      (id, family_id, user_id, token_hash, parent_id, issued_at, expires_at, user_agent, ip) \
      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM refresh_tokens \
        WHERE id = $5 AND rotated_at IS NULL AND revoked_at IS NULL); \
    UPDATE refresh_tokens SET rotated_at = $6, successor_id = $1 \
      WHERE id = $5 AND rotated_at IS NULL AND revoked_at IS NULL AND changes() = 1; \
    INSERT INTO audit_events (event_type, user_id, ip, user_agent, outcome, details, created_at) \
      SELECT $10, $3, $9, $8, $11, $12, $6 WHERE changes() = 1; \
    SELECT changes(); \
    COMMIT";

async fn rotate_sqlite(
    pools: &SqlitePools,
    successor: &NewRefresh<'_>,
    audit_details: serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let mut conn = pools.writer_for_batch().await?;
    // `fetch_all`, not `fetch_one`: stopping at the first row would skip
    // the COMMIT. The sum of rows affected is no answer either, as SQLite
    // reports BEGIN and COMMIT with the count of the connection's previous
    // write; hence the explicit `SELECT changes()` of the audit insert.
    let rotated = bind_new!(sqlx::query_scalar::<_, i64>(ROTATE_SQLITE), successor)
        .bind(EventType::Refresh.as_str())
        .bind(Outcome::Success.as_str())
        .bind(sqlx::types::Json(audit_details))
        .fetch_all(conn.connection())
        .await?;
    conn.finished();
    Ok(rotated.first() == Some(&1))
}

/// Revokes every live token of a family; returns how many.
pub async fn revoke_family(
    db: &Db,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL"
    )
    .bind(now)
    .bind(family_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
}

/// Revokes every session of a user but `keep` (the caller's own), inside
/// `tx`, so the change that calls for it commits together with it.
pub async fn revoke_user_sessions_except(
    tx: &mut WriteTx,
    user_id: Uuid,
    keep: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 \
         WHERE user_id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR family_id <> $3)"
    )
    .bind(now)
    .bind(user_id)
    .bind(keep)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))
}

/// When a live session ends, or `None` if it was revoked or never existed.
pub async fn live_session_expiry(
    db: &Db,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_scalar::<_, DateTime<Utc>>(
        "SELECT expires_at FROM refresh_tokens \
         WHERE family_id = $1 AND revoked_at IS NULL AND expires_at > $2 LIMIT 1"
    )
    .bind(family_id)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// A live session (refresh-token family) as its owner sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub family_id: Uuid,
    pub signed_in_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The user's live sessions, most recently used first. Device and address
/// are those of the session's newest token.
pub async fn live_sessions(
    db: &Db,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, SessionRow>(
        "SELECT family_id, signed_in_at, last_used_at, user_agent, ip FROM ( \
           SELECT family_id, user_agent, ip, issued_at AS last_used_at, \
                  MIN(issued_at) OVER (PARTITION BY family_id) AS signed_in_at, \
                  ROW_NUMBER() OVER (PARTITION BY family_id ORDER BY issued_at DESC) AS newest \
           FROM refresh_tokens \
           WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         ) AS live WHERE newest = 1 ORDER BY last_used_at DESC"
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(pool)
    .await)
}

/// Revokes one of the user's sessions; false when the user has no such
/// live session (someone else's id included).
pub async fn revoke_user_session(
    db: &Db,
    user_id: Uuid,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 \
         WHERE user_id = $2 AND family_id = $3 AND revoked_at IS NULL"
    )
    .bind(now)
    .bind(user_id)
    .bind(family_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() > 0))
}
