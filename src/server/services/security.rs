//! What the user sees of their account's security: their sessions, ending
//! them, and recent activity.

use serde_json::json;
use uuid::Uuid;

use super::{rfc3339, ServiceError, Services};
use crate::{
    model::{ActivityEntry, SessionSummary},
    server::{
        credentials::tokens::Principal,
        domain::{
            device,
            events::{EventType, Outcome},
        },
        store::{audit, db::WriteTx, sessions},
    },
};

/// How many activity entries a user sees.
const ACTIVITY_LIMIT: i64 = 50;

impl Services<'_> {
    /// The user's live sessions, the caller's own marked.
    pub async fn sessions(
        &self,
        principal: &Principal,
    ) -> Result<Vec<SessionSummary>, ServiceError> {
        self.check_session(principal).await?;
        self.live_sessions(principal.user_id, Some(principal.session_id))
            .await
    }

    /// A user's live sessions as clients see them, `current` marked.
    pub(super) async fn live_sessions(
        &self,
        user_id: Uuid,
        current: Option<Uuid>,
    ) -> Result<Vec<SessionSummary>, ServiceError> {
        let rows = sessions::live_for_user(self.db, user_id, self.now, self.idle_since()).await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionSummary {
                id: row.id.to_string(),
                device: device::describe(row.user_agent.as_deref()),
                ip: row.ip,
                signed_in_at: rfc3339(row.created_at),
                last_used_at: rfc3339(row.last_used_at),
                current: Some(row.id) == current,
            })
            .collect())
    }

    /// Ends one of the caller's sessions. Another user's session, or one
    /// already ended, is `NotFound`: its existence is not revealed.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: Uuid,
    ) -> Result<(), ServiceError> {
        self.check_session(principal).await?;
        if !sessions::revoke_for_user(self.db, principal.user_id, session_id, self.now).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            EventType::SessionRevoked,
            Outcome::Success,
            Some(principal.user_id),
            json!({ "session": session_id }),
        )
        .await;
        Ok(())
    }

    /// Ends every session of the caller but this one; returns how many.
    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<u64, ServiceError> {
        self.check_session(principal).await?;
        let mut tx = self.db.write_tx().await?;
        let revoked = self.end_other_sessions(&mut tx, principal).await?;
        audit::record_in(
            &mut tx,
            self.event(
                EventType::SessionRevoked,
                Outcome::Success,
                Some(principal.user_id),
                json!({ "others": true, "sessions_revoked": revoked }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Ends every session of the caller's user but the caller's own, as
    /// part of `tx`; returns how many.
    pub(super) async fn end_other_sessions(
        &self,
        tx: &mut WriteTx,
        principal: &Principal,
    ) -> Result<u64, sqlx::Error> {
        sessions::revoke_all_but_in(tx, principal.user_id, Some(principal.session_id), self.now)
            .await
    }

    /// The caller's recent security activity, newest first.
    pub async fn activity(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ActivityEntry>, ServiceError> {
        self.check_session(principal).await?;
        self.recent_activity(principal.user_id).await
    }

    /// A user's recent security activity as clients see it.
    pub(super) async fn recent_activity(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<ActivityEntry>, ServiceError> {
        let rows = audit::recent_for_user(self.db, user_id, ACTIVITY_LIMIT).await?;
        Ok(rows
            .into_iter()
            .map(|row| ActivityEntry {
                event: row.event_type,
                outcome: row.outcome,
                ip: row.ip,
                device: row
                    .user_agent
                    .as_deref()
                    .map(|ua| device::describe(Some(ua))),
                at: rfc3339(row.created_at),
            })
            .collect())
    }
}
