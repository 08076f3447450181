//! Signing in with an email and a password.

use serde_json::json;

use super::{
    sessions::Issued,
    throttle::{self, LoginKeys},
    ServiceError, Services,
};
use crate::{
    server::{
        domain::{
            events::{EventType, Outcome},
            password_hash::StoredHash,
        },
        platform::telemetry::metrics::{self, SignIn},
        store::{
            audit,
            users::{self, UserRecord},
        },
    },
    validate::{Email, Password},
};

/// How a sign-in attempt that proved the password ends. A second factor
/// will add a variant that asks for it before any session exists.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in: a session was issued.
    SignedIn(Issued),
}

impl Services<'_> {
    /// Unknown email, wrong password and disabled account are one answer,
    /// and take as long: unknown emails are checked against a dummy hash.
    /// Throttling is keyed by the email as given, so it too answers alike.
    /// `device_cookie`, if this browser signed in to the account before,
    /// lets its owner through blocks others caused.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        device_cookie: Option<&str>,
    ) -> Result<LoginOutcome, ServiceError> {
        let result = self.check_password(email, password, device_cookie).await;
        metrics::sign_in(match &result {
            Ok(LoginOutcome::SignedIn(_)) => SignIn::Success,
            Err(ServiceError::InvalidCredentials) => SignIn::BadCredentials,
            Err(ServiceError::Invalid(_)) => SignIn::Rejected,
            Err(ServiceError::Throttled(_)) => SignIn::Throttled,
            Err(ServiceError::Busy) => SignIn::Busy,
            Err(_) => SignIn::Error,
        });
        result
    }

    async fn check_password(
        &self,
        email: &str,
        password: &str,
        device_cookie: Option<&str>,
    ) -> Result<LoginOutcome, ServiceError> {
        let password = Password::parse_for_sign_in(password)?;
        let user = match Email::parse(email) {
            Ok(email) => users::find_by_email(self.db, email.as_str()).await?,
            Err(_) => None,
        };
        let user_id = user.as_ref().map(|u| u.id);
        // A device cookie counts only for the account it was issued to.
        let device = device_cookie
            .and_then(|cookie| self.devices.verify(cookie, self.now))
            .filter(|device| Some(device.user_id) == user_id);
        let keys = LoginKeys::new(email, self.client, device.as_ref());
        let claim =
            match throttle::claim_login(self.db, &self.policies.throttle, keys, self.now).await? {
                Ok(claim) => claim,
                Err(refused) => return Err(refused.into()),
            };
        let slot = match self.hasher.slot().await {
            Ok(slot) => slot,
            Err(busy) => {
                claim.withdrawn(self.db).await?;
                return Err(busy.into());
            }
        };
        let stored = user.as_ref().and_then(UserRecord::stored_hash);
        let (verified, slot) = self
            .hasher
            .verify_in(slot, &password, stored.as_ref())
            .await?;
        drop(slot);
        let user = match user {
            Some(user) if verified.matches && !user.disabled => user,
            other => {
                let reason = match &other {
                    None => "unknown_email",
                    Some(u) if u.disabled => "disabled",
                    Some(_) => "wrong_password",
                };
                self.audit(
                    EventType::Login,
                    Outcome::Failure,
                    user_id,
                    json!({ "reason": reason }),
                )
                .await;
                for block in claim.failed() {
                    self.blocked(block, user_id).await;
                }
                return Err(ServiceError::InvalidCredentials);
            }
        };
        if verified.needs_rehash {
            self.upgrade_hash(&user, &password).await;
        }
        // What a success writes commits once: on PostgreSQL every commit
        // waits for the disk, and sign-ins used to wait three times.
        let mut tx = self.db.write_tx().await?;
        claim.succeeded(&mut tx).await?;
        let event = self.event(EventType::Login, Outcome::Success, Some(user.id), json!({}));
        audit::record_in(&mut tx, event).await?;
        let mut issued = self.issue_session_in(&mut tx, user).await?;
        tx.commit().await?;
        issued.device = Some(self.devices.issue(issued.user.id, self.now));
        Ok(LoginOutcome::SignedIn(issued))
    }

    /// Re-hashes with the current parameters; failure only delays the upgrade.
    async fn upgrade_hash(&self, user: &UserRecord, password: &Password) {
        let result = match self.hasher.hash(password).await {
            Ok(hash) => self
                .store_hash(user, &hash)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = result {
            tracing::warn!(user_id = %user.id, %error, "password hash upgrade postponed");
        }
    }

    async fn store_hash(&self, user: &UserRecord, hash: &StoredHash) -> Result<(), sqlx::Error> {
        let mut tx = self.db.write_tx().await?;
        users::update_password_hash(&mut tx, user.id, hash, self.now).await?;
        tx.commit().await
    }
}
