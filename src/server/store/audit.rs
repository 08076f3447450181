//! The audit log. Events carry who, from where and what happened, never a
//! secret. A failed write is logged and does not fail the request.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::db::{with_pool, with_writer, Db};
use crate::server::domain::{
    client::ClientInfo,
    events::{EventType, Outcome},
};

/// Writes one event. A failure is logged, not returned: the action it
/// records has already happened.
pub async fn record(
    db: &Db,
    event: EventType,
    outcome: Outcome,
    user_id: Option<Uuid>,
    client: &ClientInfo,
    details: Value,
    now: DateTime<Utc>,
) {
    let details = sqlx::types::Json(details);
    let result = with_writer!(db, |pool| {
        sqlx::query(
        "INSERT INTO audit_events (event_type, user_id, ip, user_agent, outcome, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(event.as_str())
    .bind(user_id)
    .bind(client.ip.as_deref())
    .bind(client.user_agent.as_deref())
    .bind(outcome.as_str())
    .bind(&details)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
    });
    if let Err(err) = result {
        tracing::error!(event = event.as_str(), error = %err, "could not write audit event");
    }
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
/// reuse is not.
pub async fn recent_for_user(
    db: &Db,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<ActivityRow>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as::<_, ActivityRow>(
        "SELECT event_type, outcome, ip, user_agent, created_at FROM audit_events \
         WHERE user_id = $1 AND event_type <> 'refresh' \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await)
}
