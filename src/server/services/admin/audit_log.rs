//! The audit log across users, filtered and a page at a time.

use uuid::Uuid;

use super::{decode_cursor, encode_cursor, page_size, plain_term};
use crate::{
    model::{AuditEntry, AuditPage, Permission},
    server::{
        services::machines::Acting,
        services::{rfc3339, ServiceError, Services},
        store::audit::{self, AuditFilter},
    },
};

/// What `GET /api/admin/audit` filters by.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuditQuery<'a> {
    pub user_id: Option<Uuid>,
    pub event_type: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<i64>,
}

impl Services<'_> {
    pub async fn admin_audit(
        &self,
        principal: &impl Acting,
        query: AuditQuery<'_>,
    ) -> Result<AuditPage, ServiceError> {
        self.authorize_for(principal, Permission::AuditRead).await?;
        let before = match query.cursor {
            Some(cursor) => Some(
                decode_cursor(cursor)?
                    .parse::<i64>()
                    .map_err(|_| ServiceError::InvalidCursor)?,
            ),
            None => None,
        };
        let limit = page_size(query.limit);
        let filter = AuditFilter {
            user_id: query.user_id,
            event_type: query
                .event_type
                .filter(|t| !t.is_empty())
                .map(|t| plain_term("type", t))
                .transpose()?,
            outcome: query
                .outcome
                .filter(|o| !o.is_empty())
                .map(|o| plain_term("outcome", o))
                .transpose()?,
        };
        let mut rows = audit::list(self.db, filter, before, limit + 1).await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|row| encode_cursor(&row.id.to_string()))
        } else {
            None
        };
        Ok(AuditPage {
            events: rows
                .into_iter()
                .map(|row| AuditEntry {
                    id: row.id,
                    event: row.event_type,
                    outcome: row.outcome,
                    user_id: row.user_id.map(|id| id.to_string()),
                    actor_id: row.actor_id.map(|id| id.to_string()),
                    ip: row.ip,
                    details: row.details.0,
                    at: rfc3339(row.created_at),
                })
                .collect(),
            next_cursor,
        })
    }
}
