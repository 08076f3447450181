//! The audit log. Events carry who, from where and what happened, never a
//! secret. A failed write is logged and does not fail the request.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::db::{with_pool, with_tx, with_writer, Db, WriteTx};
use crate::server::domain::{
    client::ClientInfo,
    events::{EventType, Outcome},
};

/// One event to record: who, from where, what happened.
pub struct Event<'a> {
    pub event: EventType,
    pub outcome: Outcome,
    pub user_id: Option<Uuid>,
    /// Who acted, when it was not the user: an administrator.
    pub actor_id: Option<Uuid>,
    pub client: &'a ClientInfo,
    pub details: Value,
    pub at: DateTime<Utc>,
}

const INSERT: &str = "INSERT INTO audit_events \
    (event_type, user_id, ip, user_agent, outcome, details, created_at, actor_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

macro_rules! bind_event {
    ($query:expr, $e:expr) => {
        $query
            .bind($e.event.as_str())
            .bind($e.user_id)
            .bind($e.client.ip.as_deref())
            .bind($e.client.user_agent.as_deref())
            .bind($e.outcome.as_str())
            .bind(sqlx::types::Json(&$e.details))
            .bind($e.at)
            .bind($e.actor_id)
    };
}

/// Writes one event. A failure is logged, not returned: the action it
/// records has already happened.
pub async fn record(db: &Db, event: Event<'_>) {
    let result = with_writer!(db, |pool| bind_event!(sqlx::query(INSERT), event)
        .execute(pool)
        .await
        .map(|_| ()));
    if let Err(err) = result {
        tracing::error!(event = event.event.as_str(), error = %err, "could not write audit event");
    }
}

/// Writes one event inside `tx`, with the change it records: both land,
/// or neither.
pub async fn record_in(tx: &mut WriteTx, event: Event<'_>) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| bind_event!(sqlx::query(INSERT), event)
        .execute(conn)
        .await
        .map(|_| ()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub event_type: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The user's most recent security events, newest first. Routine token
/// refreshes (one every few minutes per session) are left out; a detected
/// reuse is not. Where an administrator acted, the address and device
/// were theirs, not the user's, and are left out.
pub async fn recent_for_user(
    db: &Db,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<ActivityRow>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, ActivityRow>(
        "SELECT event_type, outcome, \
           CASE WHEN actor_id IS NULL THEN ip END AS ip, \
           CASE WHEN actor_id IS NULL THEN user_agent END AS user_agent, \
           created_at FROM audit_events \
         WHERE user_id = $1 AND event_type <> 'refresh' \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// Deletes up to `batch` of the oldest events from before `before`;
/// returns how many.
pub async fn purge_before(db: &Db, before: DateTime<Utc>, batch: i64) -> Result<u64, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM audit_events WHERE id IN ( \
           SELECT id FROM audit_events WHERE created_at < $1 ORDER BY id LIMIT $2)"
    )
    .bind(before)
    .bind(batch)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
}

/// One event as the admin console lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub event_type: String,
    pub outcome: String,
    pub user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub details: sqlx::types::Json<Value>,
    pub created_at: DateTime<Utc>,
}

/// Which events [`list`] returns; `None` matches any.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuditFilter<'a> {
    pub user_id: Option<Uuid>,
    pub event_type: Option<&'a str>,
    pub outcome: Option<&'a str>,
}

/// Events matching `filter`, newest first, with ids below `before`; at
/// most `limit`. The id orders them: keyset paging by it never repeats or
/// skips an event as new ones arrive.
pub async fn list(
    db: &Db,
    filter: AuditFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, AuditRow>(
        "SELECT id, event_type, outcome, user_id, actor_id, ip, details, created_at \
         FROM audit_events \
         WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event_type = $2) \
           AND ($3 IS NULL OR outcome = $3) AND ($4 IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5"
    )
    .bind(filter.user_id)
    .bind(filter.event_type)
    .bind(filter.outcome)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// When the user last signed in (or up), as far as the log still tells.
pub async fn last_sign_in(db: &Db, user_id: Uuid) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_scalar(
        "SELECT created_at FROM audit_events \
         WHERE user_id = $1 AND event_type IN ('login', 'signup') AND outcome = 'success' \
         ORDER BY id DESC LIMIT 1"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}
