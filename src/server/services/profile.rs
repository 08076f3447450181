//! The signed-in user's own account: reading it, renaming, changing the
//! password, deleting it.

use std::sync::Arc;

use serde_json::json;

use super::{
    throttle::{self, LoginKeys},
    ServiceError, Services,
};
use crate::{
    server::{
        credentials::tokens::Principal,
        domain::events::{EventType, Outcome},
        store::{
            audit, roles,
            users::{self, UserRecord},
        },
    },
    validate::{DisplayName, Password},
};

pub struct ProfileChange<'a> {
    pub display_name: Option<&'a str>,
    pub current_password: Option<&'a str>,
    pub new_password: Option<&'a str>,
}

impl Services<'_> {
    /// The bearer's user, while their session is alive (see `authorize`).
    pub async fn current_user(&self, principal: &Principal) -> Result<UserRecord, ServiceError> {
        self.authorize(principal)
            .await
            .map(|live| Arc::unwrap_or_clone(live.user))
    }

    /// Changes the display name and/or password. A password change needs
    /// the current password, ends every other session of the user and
    /// makes their tokens stale (this session refreshes into a current one).
    pub async fn update_profile(
        &self,
        principal: &Principal,
        change: ProfileChange<'_>,
    ) -> Result<UserRecord, ServiceError> {
        let user = self.current_user(principal).await?;
        let display_name = change.display_name.map(DisplayName::parse).transpose()?;
        let new_password = match change.new_password {
            Some(new) => {
                let context = [user.email.as_str(), user.display_name.as_str()];
                let new = Password::parse_new(new, &context)?;
                self.check_current_password(
                    &user,
                    change.current_password,
                    EventType::PasswordChange,
                )
                .await?;
                Some(new)
            }
            None => None,
        };

        if let Some(name) = &display_name {
            users::update_display_name(self.db, user.id, name.as_str(), self.now).await?;
            self.audit(
                EventType::ProfileUpdate,
                Outcome::Success,
                Some(user.id),
                json!({}),
            )
            .await;
        }
        if let Some(new) = new_password {
            let hash = self.hasher.hash(&new).await?;
            // The new hash, the end of every other session and the record
            // of it land together, or not at all.
            let mut tx = self.db.write_tx().await?;
            users::update_password_hash(&mut tx, user.id, &hash, self.now).await?;
            // Tokens made before it are stale: a refresh (this session's
            // goes on) brings one that is current.
            users::bump_authz_version_in(&mut tx, user.id, self.now).await?;
            let revoked = self.end_other_sessions(&mut tx, principal).await?;
            audit::record_in(
                &mut tx,
                self.event(
                    EventType::PasswordChange,
                    Outcome::Success,
                    Some(user.id),
                    json!({ "other_sessions_revoked": revoked }),
                ),
            )
            .await?;
            tx.commit().await?;
        }
        // Not through `authorize`: after a password change the caller's
        // own token is stale, though the change just succeeded.
        users::find_by_id(self.db, user.id)
            .await?
            .ok_or(ServiceError::Unauthenticated)
    }

    /// Deletes the caller's own account, given its current password: its
    /// sessions go with it, its audit events stay. Not the last enabled
    /// administrator's.
    pub async fn delete_own_account(
        &self,
        principal: &Principal,
        current_password: &str,
    ) -> Result<(), ServiceError> {
        let user = self.current_user(principal).await?;
        self.check_current_password(&user, Some(current_password), EventType::AccountDeleted)
            .await?;
        let mut tx = self.db.write_tx().await?;
        roles::lock_admins_in(&mut tx).await?;
        // As it is now, under the lock: it may have become an admin since.
        let Some(user) = users::find_by_id_in(&mut tx, user.id).await? else {
            tx.rollback().await?;
            return Err(ServiceError::Unauthenticated);
        };
        users::delete_in(&mut tx, user.id).await?;
        self.keep_an_admin_in(&mut tx, &user).await?;
        audit::record_in(
            &mut tx,
            self.event(
                EventType::AccountDeleted,
                Outcome::Success,
                Some(user.id),
                json!({ "by": "owner" }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks the current password, throttled like a sign-in and on the
    /// same counters: a stolen session must not guess the password at
    /// hashing speed. A wrong one is recorded as a failed `event`.
    async fn check_current_password(
        &self,
        user: &UserRecord,
        given: Option<&str>,
        event: EventType,
    ) -> Result<(), ServiceError> {
        let current = Password::parse_for_sign_in(given.unwrap_or_default())
            .map_err(|_| ServiceError::WrongCurrentPassword)?;
        let keys = LoginKeys::new(&user.email, self.client, None);
        let claim =
            match throttle::claim_login(self.db, &self.policies.throttle, keys, self.now).await? {
                Ok(claim) => claim,
                Err(refused) => return Err(refused.into()),
            };
        let verified = match self
            .hasher
            .verify(&current, user.stored_hash().as_ref())
            .await
        {
            Ok(verified) => verified,
            Err(busy) => {
                claim.withdrawn(self.db).await?;
                return Err(busy.into());
            }
        };
        if !verified.matches {
            self.audit(event, Outcome::Failure, Some(user.id), json!({}))
                .await;
            for block in claim.failed() {
                self.blocked(block, Some(user.id)).await;
            }
            return Err(ServiceError::WrongCurrentPassword);
        }
        // Rare: its own commit is fine.
        let mut tx = self.db.write_tx().await?;
        claim.succeeded(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
