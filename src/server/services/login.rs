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
        store::users::{self, UserRecord},
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
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome, ServiceError> {
        let password = Password::parse_for_sign_in(password)?;
        let user = match Email::parse(email) {
            Ok(email) => users::find_by_email(self.db, email.as_str()).await?,
            Err(_) => None,
        };
        let user_id = user.as_ref().map(|u| u.id);
        let keys = LoginKeys::new(email, self.client);
        // Checked once a hashing slot is ours, so attempts that queued
        // together still see the failures recorded meanwhile: at most one
        // attempt per slot gets past a block as it is imposed.
        let slot = self.hasher.slot().await?;
        if let Some(refused) =
            throttle::check_login(self.db, &self.policies.throttle, &keys, self.now).await?
        {
            drop(slot);
            return Err(self.throttled(refused, "refused", user_id).await);
        }
        let stored = user.as_ref().and_then(UserRecord::stored_hash);
        // The slot is held until the outcome is recorded.
        let (verified, slot) = self
            .hasher
            .verify_in(slot, &password, stored.as_ref())
            .await?;
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
                let imposed =
                    throttle::login_failed(self.db, &self.policies.throttle, &keys, self.now)
                        .await?;
                drop(slot);
                for block in imposed {
                    self.throttled(block, "blocked", user_id).await;
                }
                return Err(ServiceError::InvalidCredentials);
            }
        };
        throttle::login_succeeded(self.db, &self.policies.throttle, &keys).await?;
        drop(slot);
        if verified.needs_rehash {
            self.upgrade_hash(&user, &password).await;
        }
        self.audit(EventType::Login, Outcome::Success, Some(user.id), json!({}))
            .await;
        self.issue_session(user).await.map(LoginOutcome::SignedIn)
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
