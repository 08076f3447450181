//! Granting roles outside the admin console: the `portcullis admin grant`
//! command and `PORTCULLIS_BOOTSTRAP_ADMIN`, which make the first
//! administrator.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{
    model::RoleName,
    server::{
        domain::{
            client::ClientInfo,
            events::{EventType, Outcome},
        },
        platform::env::{invalid, ConfigError, Env},
        store::{
            audit::{self, Event},
            db::Db,
            roles, users,
        },
    },
    validate::Email,
};

/// `PORTCULLIS_BOOTSTRAP_ADMIN`: the account that becomes an administrator
/// when it signs up, or at start-up if it exists already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapAdmin(pub Option<Email>);

impl BootstrapAdmin {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        match env.get("PORTCULLIS_BOOTSTRAP_ADMIN") {
            None => Ok(Self(None)),
            Some(value) => Email::parse(&value)
                .map(|email| Self(Some(email)))
                .map_err(|_| invalid("PORTCULLIS_BOOTSTRAP_ADMIN", "must be an email address")),
        }
    }

    pub fn is(&self, email: &Email) -> bool {
        self.0.as_ref().is_some_and(|admin| admin == email)
    }
}

/// What granting a role came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    Now,
    Already,
    NoSuchUser,
    NoSuchRole,
    /// Bootstrapping only: an enabled administrator exists already, so
    /// nothing was granted.
    AdminExists,
}

/// Whether a grant stands aside once there is an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `portcullis admin grant`: whoever runs it holds the database.
    Always,
    /// `PORTCULLIS_BOOTSTRAP_ADMIN`: only while there is no enabled
    /// administrator, so a deliberate demotion is not undone at the next
    /// start, and the address cannot be claimed once someone administers.
    NoAdminYet,
}

/// Grants `role` to the account with `email`, idempotently: granted once,
/// it moves the user's authorization version on (their tokens are stale
/// and refresh into the new role) and is recorded in their activity.
pub async fn grant_by_email(
    db: &Db,
    email: &str,
    role: &RoleName,
    when: When,
    now: DateTime<Utc>,
) -> Result<Granted, sqlx::Error> {
    let Ok(email) = Email::parse(email) else {
        return Ok(Granted::NoSuchUser);
    };
    if role.as_str() == RoleName::USER {
        // Everyone holds it; there is nothing to write.
        return Ok(match users::find_by_email(db, email.as_str()).await? {
            Some(_) => Granted::Already,
            None => Granted::NoSuchUser,
        });
    }
    let mut tx = db.write_tx().await?;
    // Every change to who holds what takes this lock first (see there).
    roles::lock_admins_in(&mut tx).await?;
    if when == When::NoAdminYet && !roles::enabled_admins_in(&mut tx).await?.is_empty() {
        tx.rollback().await?;
        return Ok(Granted::AdminExists);
    }
    let Some(user) = users::find_by_email_in(&mut tx, email.as_str()).await? else {
        tx.rollback().await?;
        return Ok(Granted::NoSuchUser);
    };
    if !roles::exists_in(&mut tx, role.as_str()).await? {
        tx.rollback().await?;
        return Ok(Granted::NoSuchRole);
    }
    if !roles::grant_in(&mut tx, user.id, role.as_str(), now).await? {
        tx.rollback().await?;
        return Ok(Granted::Already);
    }
    users::bump_authz_version_in(&mut tx, user.id, now).await?;
    let client = ClientInfo::default();
    audit::record_in(
        &mut tx,
        Event {
            event: EventType::RoleGranted,
            outcome: Outcome::Success,
            user_id: Some(user.id),
            actor_id: None,
            client: &client,
            details: json!({
                "role": role.as_str(),
                "by": match when {
                    When::Always => "command",
                    When::NoAdminYet => "bootstrap",
                },
            }),
            at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Granted::Now)
}
