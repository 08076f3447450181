//! Refresh-token rows. Each belongs to a session (its family); every
//! refresh adds a row linked to its parent, and rotation marks the parent
//! used, atomically, after checking the session is alive.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{with_pool, Db, SqlitePools, TxConn, WriteTx},
    sessions::{
        bind_new_session, NewSession, SessionRecord, COLUMNS as SESSION_COLUMNS,
        INSERT as SESSION_INSERT,
    },
    users::{JoinedUser, UserRecord, JOINED_COLUMNS},
};
use crate::server::domain::events::{EventType, Outcome};

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

/// Starts a session with its first token, in `tx`: on PostgreSQL in one
/// statement, as it is one round trip less on every sign-in's path.
pub async fn insert_with_session_in(
    tx: &mut WriteTx,
    session: &NewSession<'_>,
    first: &NewRefresh<'_>,
) -> Result<(), sqlx::Error> {
    match tx.conn() {
        TxConn::Postgres(conn) => {
            let sql = format!(
                "WITH session AS ({SESSION_INSERT}) INSERT INTO refresh_tokens (id, family_id, \
                 user_id, token_hash, parent_id, issued_at, expires_at, user_agent, ip) \
                 VALUES ($7, $8, $9, $10, $11, $12, $13, $14, $15)"
            );
            bind_new!(bind_new_session!(sqlx::query(&sql), session), first)
                .execute(conn)
                .await?;
        }
        TxConn::Sqlite(conn) => {
            bind_new_session!(sqlx::query(SESSION_INSERT), session)
                .execute(&mut *conn)
                .await?;
            bind_new!(
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, parent_id, \
                     issued_at, expires_at, user_agent, ip) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                first
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// A stored token as a refresh sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    #[sqlx(rename = "t_id")]
    pub id: Uuid,
    #[sqlx(rename = "t_rotated_at")]
    pub rotated_at: Option<DateTime<Utc>>,
    /// Its successor, sealed with this token (see `RefreshToken::seal_for`),
    /// until the successor is rotated in turn.
    #[sqlx(rename = "t_successor_seal")]
    pub successor_seal: Option<Vec<u8>>,
}

/// A presented token with its session and user: all a refresh decides on,
/// read in one round trip.
#[derive(Debug)]
pub struct Presented {
    pub token: TokenRecord,
    pub session: SessionRecord,
    pub user: UserRecord,
}

#[derive(sqlx::FromRow)]
struct PresentedRow {
    #[sqlx(flatten)]
    token: TokenRecord,
    #[sqlx(flatten)]
    session: SessionRecord,
    #[sqlx(flatten)]
    user: JoinedUser,
}

pub async fn find_presented(db: &Db, token_hash: &[u8]) -> Result<Option<Presented>, sqlx::Error> {
    let sql = format!(
        "SELECT t.id AS t_id, t.rotated_at AS t_rotated_at, \
                n.seal AS t_successor_seal, {SESSION_COLUMNS}, {JOINED_COLUMNS} \
         FROM refresh_tokens t JOIN sessions s ON s.id = t.family_id \
         JOIN users u ON u.id = s.user_id \
         LEFT JOIN refresh_tokens n ON n.id = t.successor_id WHERE t.token_hash = $1"
    );
    let row = with_pool!(db, |pool| sqlx::query_as::<_, PresentedRow>(&sql)
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|row| Presented {
        token: row.token,
        session: row.session,
        user: row.user.into(),
    }))
}

/// What a rotation writes besides the successor itself.
pub struct Rotation<'a> {
    pub parent_id: Uuid,
    /// The successor sealed with the parent, stored with the successor.
    pub successor_seal: &'a [u8],
    /// The session must have been used after this, or it is idle.
    pub idle_since: DateTime<Utc>,
    pub audit_details: serde_json::Value,
}

/// Marks the session used, inserts `successor`, marks the parent rotated
/// and records the refresh in the audit log, all or nothing. Returns false
/// when the session is no longer alive (revoked, expired, idle) or the
/// parent was rotated already (another request won the race); then only
/// the session's last use (time, device, address) may have been written,
/// as the session's row goes first, to order rotation and revocation.
pub async fn rotate(
    db: &Db,
    successor: &NewRefresh<'_>,
    rotation: Rotation<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    // The rows stand for the parent and the time of rotation.
    let successor = NewRefresh {
        parent_id: Some(rotation.parent_id),
        issued_at: now,
        ..*successor
    };
    macro_rules! bind_rotation {
        ($sql:expr) => {
            bind_new!(sqlx::query_scalar::<_, i64>($sql), successor)
                .bind(EventType::Refresh.as_str())
                .bind(Outcome::Success.as_str())
                .bind(sqlx::types::Json(rotation.audit_details))
                .bind(rotation.idle_since)
                .bind(rotation.successor_seal)
        };
    }
    match db {
        Db::Sqlite(pools) => {
            let query = bind_rotation!(ROTATE_SQLITE);
            rotate_sqlite(pools, query).await
        }
        Db::Postgres(pool) => Ok(bind_rotation!(ROTATE_POSTGRES).fetch_one(pool).await? == 1),
    }
}

/// PostgreSQL's rotation as one statement. The session's row is updated
/// first, so its row lock orders this rotation against any revocation: a
/// revocation that committed first leaves nothing to match; one that comes
/// after sees the successor's session revoked. Then the parent is marked,
/// its successor inserted and the refresh audited, each only if the step
/// before touched a row. One statement commits or rolls back as a whole on
/// the server, so a request dropped half-way (the client went away) cannot
/// leave a transaction idle and holding those row locks. A concurrent
/// rotation of the same parent waits for the locks, then finds the parent
/// rotated and matches nothing.
const ROTATE_POSTGRES: &str = "WITH session AS ( \
      UPDATE sessions SET last_used_at = $6, user_agent = $8, ip = $9 \
      WHERE id = $2 AND revoked_at IS NULL AND expires_at > $6 AND last_used_at > $13 \
      RETURNING id), \
    parent AS ( \
      UPDATE refresh_tokens SET rotated_at = $6, successor_id = $1, seal = NULL \
      WHERE id = $5 AND rotated_at IS NULL AND EXISTS (SELECT 1 FROM session) RETURNING id), \
    successor AS ( \
      INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, parent_id, issued_at, \
        expires_at, user_agent, ip, seal) \
      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $14 FROM parent RETURNING id), \
    audited AS ( \
      INSERT INTO audit_events (event_type, user_id, ip, user_agent, outcome, details, created_at) \
      SELECT $10, $3, $9, $8, $11, $12, $6 FROM successor RETURNING 1) \
    SELECT COUNT(*) FROM audited";

/// SQLite's rotation as one batch, so the single writer connection is
/// held for one hop to its worker thread rather than several (the profile
/// of `make bench` showed the writer idle between statements, waiting for
/// the request's task to be scheduled). Each statement runs only if the
/// one before it changed a row; the write lock taken by `BEGIN IMMEDIATE`
/// keeps the session and the parent fixed throughout.
const ROTATE_SQLITE: &str = "BEGIN IMMEDIATE; \
    UPDATE sessions SET last_used_at = $6, user_agent = $8, ip = $9 \
      WHERE id = $2 AND revoked_at IS NULL AND expires_at > $6 AND last_used_at > $13; \
    INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, parent_id, issued_at, \
        expires_at, user_agent, ip, seal) \
      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $14 WHERE changes() = 1 AND EXISTS ( \
        SELECT 1 FROM refresh_tokens WHERE id = $5 AND rotated_at IS NULL); \
    UPDATE refresh_tokens SET rotated_at = $6, successor_id = $1, seal = NULL \
      WHERE id = $5 AND rotated_at IS NULL AND changes() = 1; \
    INSERT INTO audit_events (event_type, user_id, ip, user_agent, outcome, details, created_at) \
      SELECT $10, $3, $9, $8, $11, $12, $6 WHERE changes() = 1; \
    SELECT changes(); \
    COMMIT";

async fn rotate_sqlite<'q>(
    pools: &SqlitePools,
    query: sqlx::query::QueryScalar<'q, sqlx::Sqlite, i64, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<bool, sqlx::Error> {
    let mut conn = pools.writer_for_batch().await?;
    // `fetch_all`, not `fetch_one`: stopping at the first row would skip
    // the COMMIT. The sum of rows affected is no answer either, as SQLite
    // reports BEGIN and COMMIT with the count of the connection's previous
    // write; hence the explicit `SELECT changes()` of the audit insert.
    let rotated = query.fetch_all(conn.connection()).await?;
    conn.finished();
    Ok(rotated.first() == Some(&1))
}
