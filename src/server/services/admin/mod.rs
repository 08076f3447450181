//! The admin console's use cases. Each starts with [`Services::authorize_for`]:
//! the one place that says who may administer what.

mod audit_log;
mod roles;
mod user_changes;
mod users;

pub use audit_log::AuditQuery;

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::Value;
use uuid::Uuid;

use super::{
    machines::{Acting, ActingAs},
    ServiceError, Services,
};
use crate::{
    model::{AdminUser, Permission},
    server::{
        domain::{
            events::{EventType, Outcome},
            grants::Grants,
        },
        store::{
            audit::{self, Event},
            db::WriteTx,
            users::UserRecord,
        },
    },
};

/// The most a page of users or events holds, and what it holds unless asked.
pub const MAX_PAGE: i64 = 100;
pub const DEFAULT_PAGE: i64 = 50;

/// A page size as asked, within `1..=MAX_PAGE`.
pub fn page_size(asked: Option<i64>) -> i64 {
    asked.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// A search or filter term as given, unless it holds a control character.
pub fn plain_term<'t>(name: &'static str, term: &'t str) -> Result<&'t str, ServiceError> {
    if term.chars().any(char::is_control) {
        return Err(ServiceError::InvalidQuery(name));
    }
    Ok(term)
}

impl Services<'_> {
    /// The acting user, if their session stands, their token is current and
    /// they hold `permission`: 401 otherwise, or 403 when signed in
    /// without it. Checked like every request ([`Services::authorize`]):
    /// a permission taken away counts at once.
    pub async fn authorize_for(
        &self,
        principal: &impl Acting,
        permission: Permission,
    ) -> Result<UserRecord, ServiceError> {
        self.authorize_for_all(principal, &[permission]).await
    }

    /// Like [`Services::authorize_for`], for every one of `permissions`.
    pub async fn authorize_for_all(
        &self,
        principal: &impl Acting,
        permissions: &[Permission],
    ) -> Result<UserRecord, ServiceError> {
        let principal = match principal.acting() {
            ActingAs::Person(principal) => principal,
            ActingAs::Machine(credential) => {
                return self.key_acting_for_user(credential, permissions).await
            }
        };
        let user = Arc::unwrap_or_clone(self.authorize(principal).await?.user);
        let grants = user.grants();
        if !permissions.iter().all(|p| grants.allows(*p)) {
            return Err(ServiceError::Forbidden);
        }
        Ok(user)
    }

    /// Records what `actor` did to `user_id` in `tx`: it shows in the admin
    /// audit log and in that user's own activity.
    async fn admin_event_in(
        &self,
        tx: &mut WriteTx,
        actor: &UserRecord,
        event: EventType,
        user_id: Option<Uuid>,
        details: Value,
    ) -> Result<(), sqlx::Error> {
        audit::record_in(
            tx,
            Event {
                event,
                outcome: Outcome::Success,
                user_id,
                actor_id: Some(actor.id),
                client: self.client,
                details,
                at: self.now,
            },
        )
        .await
    }
}

/// An administrator without the `admin` role may not act on an
/// administrator's account, nor hand out or take away permissions they do
/// not hold themselves: `users:write` or `roles:write` alone must not add
/// up to everything.
fn within_reach<'p>(
    actor: &Grants,
    permissions: impl IntoIterator<Item = &'p str>,
) -> Result<(), ServiceError> {
    if actor.is_admin() {
        return Ok(());
    }
    let held = |name: &str| Permission::parse(name).is_some_and(|p| actor.allows(p));
    if permissions.into_iter().all(held) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Only an administrator may act on an administrator.
fn may_act_on(actor: &Grants, target: &UserRecord) -> Result<(), ServiceError> {
    if target.grants().is_admin() && !actor.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    Ok(())
}

/// A user as the console lists them.
fn admin_user(user: &UserRecord) -> AdminUser {
    AdminUser {
        id: user.id.to_string(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        roles: user.grants().roles,
        disabled: user.disabled,
        created_at: super::rfc3339(user.created_at),
    }
}

/// Cursors are opaque to clients: base64 of what the store pages by.
fn encode_cursor(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Result<String, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ServiceError::InvalidCursor)
}
