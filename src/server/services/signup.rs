//! Creating an account, which signs it in.

use serde_json::json;

use super::{sessions::Issued, throttle::Scope, ServiceError, Services};
use crate::{
    model::RoleName,
    server::{
        domain::events::{EventType, Outcome},
        platform::telemetry::metrics::{self, SignUp},
        store::{
            audit,
            db::WriteTx,
            roles,
            users::{self, InsertUserError, NewUser, UserRecord},
        },
    },
    validate::{DisplayName, Email, Password},
};

impl Services<'_> {
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Issued, ServiceError> {
        let result = self.create_account(email, password, display_name).await;
        metrics::sign_up(match &result {
            Ok(_) => SignUp::Created,
            Err(ServiceError::EmailTaken | ServiceError::Invalid(_)) => SignUp::Rejected,
            Err(ServiceError::Throttled(_)) => SignUp::Throttled,
            Err(ServiceError::Busy) => SignUp::Busy,
            Err(_) => SignUp::Error,
        });
        result
    }

    async fn create_account(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Issued, ServiceError> {
        self.rate_limit(Scope::SignupIp).await?;
        let email = Email::parse(email)?;
        let display_name = match display_name.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => DisplayName::parse(name)?,
            None => DisplayName::from_email(&email),
        };
        let password = Password::parse_new(password, &[email.as_str(), display_name.as_str()])?;
        // Hashed whether or not the email is taken, so the time to answer
        // does not tell (the insert below finds out).
        let hash = self.hasher.hash(&password).await?;
        let new_user = NewUser {
            email: email.as_str(),
            password_hash: &hash,
            display_name: display_name.as_str(),
        };
        // The account, its first session and the audit event commit once.
        let mut tx = self.db.write_tx().await?;
        let user = match users::insert(&mut tx, new_user, self.now).await {
            Ok(user) => user,
            Err(InsertUserError::EmailTaken) => {
                tx.rollback().await?;
                return Err(ServiceError::EmailTaken);
            }
            Err(InsertUserError::Database(e)) => return Err(e.into()),
        };
        let event = self.event(
            EventType::Signup,
            Outcome::Success,
            Some(user.id),
            json!({}),
        );
        audit::record_in(&mut tx, event).await?;
        let user = if self.policies.bootstrap_admin.is(&email) {
            self.make_bootstrap_admin_in(&mut tx, user).await?
        } else {
            user
        };
        let mut issued = self.issue_session_in(&mut tx, user).await?;
        tx.commit().await?;
        issued.device = Some(self.devices.issue(issued.user.id, self.now));
        Ok(issued)
    }

    /// `PORTCULLIS_BOOTSTRAP_ADMIN` signed up: if there is no enabled
    /// administrator yet, their first session is already one.
    async fn make_bootstrap_admin_in(
        &self,
        tx: &mut WriteTx,
        user: UserRecord,
    ) -> Result<UserRecord, ServiceError> {
        // Only while nobody administers: the address cannot be claimed
        // later by whoever signs up with it first.
        roles::lock_admins_in(tx).await?;
        if !roles::enabled_admins_in(tx).await?.is_empty() {
            return Ok(user);
        }
        roles::grant_in(tx, user.id, RoleName::ADMIN, self.now).await?;
        let event = self.event(
            EventType::RoleGranted,
            Outcome::Success,
            Some(user.id),
            json!({ "role": RoleName::ADMIN, "by": "bootstrap" }),
        );
        audit::record_in(tx, event).await?;
        Ok(users::find_by_email_in(tx, &user.email)
            .await?
            .unwrap_or(user))
    }
}
