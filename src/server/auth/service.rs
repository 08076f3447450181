//! The rules of signing up, in and out, refreshing and changing a profile.
//! The JSON handlers and the UI's server functions both call these, so each
//! rule has one implementation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    password::{HashError, PasswordHasher},
    throttle::{self, LoginKeys, Scope, ThrottlePolicy, Throttled},
    tokens::{hash_refresh_token, AccessTokens, Principal, RefreshToken, TokenError},
};
use crate::{
    model::{ActivityEntry, CurrentSession, SessionSummary},
    server::{
        audit::{self, ClientInfo, EventType, Outcome},
        db::Db,
        device,
        refresh_tokens::{self, NewRefresh, RefreshRecord, TokenAndUser},
        users::{self, InsertUserError, NewUser, UserRecord},
    },
    validate::{DisplayName, Email, Password, ValidationError},
};

/// How long a just-rotated refresh token is still honoured, so two tabs
/// refreshing at the same moment do not sign the user out.
pub const REUSE_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The current password given for a change was wrong.
    #[error("current password is wrong")]
    WrongCurrentPassword,
    /// No valid session: missing, expired, revoked or replayed token.
    #[error("not signed in")]
    Unauthenticated,
    #[error("password hashing is saturated")]
    Busy,
    /// Too many attempts; try again after this many seconds.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// No such thing for this user.
    #[error("not found")]
    NotFound,
    #[error("internal: {0}")]
    Internal(String),
}

/// How many activity entries a user sees.
const ACTIVITY_LIMIT: i64 = 50;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => AuthError::Busy,
            other => AuthError::Internal(format!("database: {other}")),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => AuthError::Busy,
            HashError::Internal(detail) => AuthError::Internal(detail),
        }
    }
}

impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        AuthError::Internal(e.to_string())
    }
}

/// What the auth rules need from the running application.
pub struct AuthContext<'a> {
    pub db: &'a Db,
    pub hasher: &'a PasswordHasher,
    pub tokens: &'a AccessTokens,
    pub throttle: &'a ThrottlePolicy,
    pub refresh_ttl: Duration,
    pub now: DateTime<Utc>,
    pub client: &'a ClientInfo,
}

/// A signed-in session: the user and a fresh token pair.
#[derive(Debug)]
pub struct Issued {
    pub user: UserRecord,
    pub session_id: Uuid,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: RefreshToken,
    pub refresh_expires_at: DateTime<Utc>,
}

impl Issued {
    pub fn current_session(&self, now: DateTime<Utc>) -> CurrentSession {
        CurrentSession {
            user: self.user.to_public(),
            access_expires_in_secs: (self.access_expires_at - now).num_seconds().max(0),
            session_expires_at: self
                .refresh_expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// When this session's tokens run out, as clients are told.
    pub fn session_info(&self) -> crate::model::SessionInfo {
        let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        crate::model::SessionInfo {
            access_expires_at: rfc3339(self.access_expires_at),
            refresh_expires_at: rfc3339(self.refresh_expires_at),
        }
    }
}

pub struct ProfileChange<'a> {
    pub display_name: Option<&'a str>,
    pub current_password: Option<&'a str>,
    pub new_password: Option<&'a str>,
}

impl AuthContext<'_> {
    async fn audit(
        &self,
        event: EventType,
        outcome: Outcome,
        user: Option<Uuid>,
        details: serde_json::Value,
    ) {
        audit::record(
            self.db,
            event,
            outcome,
            user,
            self.client,
            details,
            self.now,
        )
        .await;
    }

    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Issued, AuthError> {
        self.rate_limit(Scope::SignupIp).await?;
        let email = Email::parse(email)?;
        let display_name = match display_name.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => DisplayName::parse(name)?,
            None => DisplayName::from_email(&email),
        };
        let password = Password::parse_new(password, &[email.as_str(), display_name.as_str()])?;
        // Spare the hash when the answer is already known.
        if users::find_by_email(self.db, email.as_str())
            .await?
            .is_some()
        {
            return Err(AuthError::EmailTaken);
        }
        let hash = self.hasher.hash(&password).await?;
        let new_user = NewUser {
            email: email.as_str(),
            password_hash: &hash,
            display_name: display_name.as_str(),
        };
        let user = match users::insert(self.db, new_user, self.now).await {
            Ok(user) => user,
            Err(InsertUserError::EmailTaken) => return Err(AuthError::EmailTaken),
            Err(InsertUserError::Database(e)) => return Err(e.into()),
        };
        self.audit(
            EventType::Signup,
            Outcome::Success,
            Some(user.id),
            json!({}),
        )
        .await;
        self.start_session(user).await
    }

    /// Unknown email, wrong password and disabled account are one answer,
    /// and take as long: unknown emails are checked against a dummy hash.
    /// Throttling is keyed by the email as given, so it too answers alike.
    pub async fn login(&self, email: &str, password: &str) -> Result<Issued, AuthError> {
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
            throttle::check_login(self.db, self.throttle, &keys, self.now).await?
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
                    throttle::login_failed(self.db, self.throttle, &keys, self.now).await?;
                drop(slot);
                for block in imposed {
                    self.throttled(block, "blocked", user_id).await;
                }
                return Err(AuthError::InvalidCredentials);
            }
        };
        throttle::login_succeeded(self.db, self.throttle, &keys).await?;
        drop(slot);
        if verified.needs_rehash {
            self.upgrade_hash(&user, &password).await;
        }
        self.audit(EventType::Login, Outcome::Success, Some(user.id), json!({}))
            .await;
        self.start_session(user).await
    }

    /// Counts this request against a per-address limit.
    async fn rate_limit(&self, scope: Scope) -> Result<(), AuthError> {
        match throttle::rate_limit(self.db, self.throttle, scope, self.client, self.now).await? {
            Some(refused) => Err(self.throttled(refused, "refused", None).await),
            None => Ok(()),
        }
    }

    /// Audits a throttle decision and returns the error a refusal gets.
    async fn throttled(&self, t: Throttled, action: &str, user: Option<Uuid>) -> AuthError {
        self.audit(
            EventType::Throttled,
            Outcome::Failure,
            user,
            json!({ "scope": t.scope.as_str(), "action": action, "retry_after_secs": t.retry_after_secs }),
        )
        .await;
        AuthError::Throttled(t.retry_after_secs)
    }

    /// Re-hashes with the current parameters; failure only delays the upgrade.
    async fn upgrade_hash(&self, user: &UserRecord, password: &Password) {
        let result = match self.hasher.hash(password).await {
            Ok(hash) => users::update_password_hash(self.db, user.id, &hash, self.now)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = result {
            tracing::warn!(user_id = %user.id, %error, "password hash upgrade postponed");
        }
    }

    async fn start_session(&self, user: UserRecord) -> Result<Issued, AuthError> {
        let family_id = Uuid::new_v4();
        let refresh_expires_at =
            self.now + chrono::Duration::from_std(self.refresh_ttl).unwrap_or_default();
        let refresh = RefreshToken::generate();
        let hash = refresh.hash();
        refresh_tokens::insert(
            self.db,
            &self.new_refresh(&user, family_id, &hash, None, refresh_expires_at),
        )
        .await?;
        self.issue(user, family_id, refresh, refresh_expires_at)
    }

    fn new_refresh<'t>(
        &'t self,
        user: &UserRecord,
        family_id: Uuid,
        token_hash: &'t [u8],
        parent_id: Option<Uuid>,
        expires_at: DateTime<Utc>,
    ) -> NewRefresh<'t> {
        NewRefresh {
            id: Uuid::new_v4(),
            family_id,
            user_id: user.id,
            token_hash,
            parent_id,
            issued_at: self.now,
            expires_at,
            user_agent: self.client.user_agent.as_deref(),
            ip: self.client.ip.as_deref(),
        }
    }

    fn issue(
        &self,
        user: UserRecord,
        session_id: Uuid,
        refresh_token: RefreshToken,
        refresh_expires_at: DateTime<Utc>,
    ) -> Result<Issued, AuthError> {
        let (access_token, access_expires_at) =
            self.tokens
                .issue(user.id, session_id, &user.email, &user.role, self.now)?;
        Ok(Issued {
            user,
            session_id,
            access_token,
            // An access token never outlives its session.
            access_expires_at: access_expires_at.min(refresh_expires_at),
            refresh_token,
            refresh_expires_at,
        })
    }

    /// Rotates `raw`: the old token is spent and a new one issued. A spent
    /// token presented again after the grace window revokes its family.
    pub async fn refresh(&self, raw: &str) -> Result<Issued, AuthError> {
        self.rate_limit(Scope::RefreshIp).await?;
        let Some(TokenAndUser {
            token: record,
            user,
        }) = refresh_tokens::find_with_user(self.db, &hash_refresh_token(raw)).await?
        else {
            return Err(AuthError::Unauthenticated);
        };
        if record.revoked_at.is_some() || record.expires_at <= self.now {
            return Err(AuthError::Unauthenticated);
        }
        if user.disabled {
            refresh_tokens::revoke_family(self.db, record.family_id, self.now).await?;
            return Err(AuthError::Unauthenticated);
        }
        let refresh = RefreshToken::generate();
        let hash = refresh.hash();
        let successor = self.new_refresh(
            &user,
            record.family_id,
            &hash,
            Some(record.id),
            record.expires_at,
        );

        let expires_at = record.expires_at;
        let rotated_at = match record.rotated_at {
            Some(at) => at,
            None if refresh_tokens::rotate(
                self.db,
                record.id,
                &successor,
                self.now,
                json!({ "session": record.family_id }),
            )
            .await? =>
            {
                return self.issue(user, record.family_id, refresh, expires_at);
            }
            // Lost a race: another refresh rotated it, or a sign-out
            // revoked it.
            None => match refresh_tokens::find_by_hash(self.db, &hash_refresh_token(raw)).await? {
                Some(now_stored) if now_stored.revoked_at.is_none() => {
                    now_stored.rotated_at.unwrap_or(self.now)
                }
                _ => return Err(AuthError::Unauthenticated),
            },
        };
        if !self.within_grace(rotated_at) {
            return self.reuse_detected(&record).await;
        }
        // A concurrent refresh (another tab): hand out a sibling, unless the
        // session ended meanwhile.
        if !refresh_tokens::insert_unless_revoked(self.db, &successor).await? {
            return Err(AuthError::Unauthenticated);
        }
        self.audit(
            EventType::Refresh,
            Outcome::Success,
            Some(user.id),
            json!({ "session": record.family_id }),
        )
        .await;
        self.issue(user, record.family_id, refresh, expires_at)
    }

    fn within_grace(&self, rotated_at: DateTime<Utc>) -> bool {
        let grace = chrono::Duration::from_std(REUSE_GRACE).unwrap_or_default();
        self.now - rotated_at <= grace
    }

    async fn reuse_detected(&self, record: &RefreshRecord) -> Result<Issued, AuthError> {
        let revoked = refresh_tokens::revoke_family(self.db, record.family_id, self.now).await?;
        tracing::warn!(user_id = %record.user_id, session = %record.family_id, "refresh token reuse: session revoked");
        self.audit(
            EventType::RefreshReuse,
            Outcome::Failure,
            Some(record.user_id),
            json!({ "session": record.family_id, "tokens_revoked": revoked }),
        )
        .await;
        Err(AuthError::Unauthenticated)
    }

    /// Ends the session that `raw` (or else `principal`) belongs to. Never
    /// fails for a missing or unknown session: signing out is idempotent.
    pub async fn logout(
        &self,
        raw: Option<&str>,
        principal: Option<&Principal>,
    ) -> Result<(), AuthError> {
        let from_refresh = match raw {
            Some(raw) => refresh_tokens::find_by_hash(self.db, &hash_refresh_token(raw))
                .await?
                .map(|r| (r.family_id, r.user_id)),
            None => None,
        };
        let session = from_refresh.or_else(|| principal.map(|p| (p.session_id, p.user_id)));
        if let Some((family_id, user_id)) = session {
            let revoked = refresh_tokens::revoke_family(self.db, family_id, self.now).await?;
            if revoked > 0 {
                self.audit(
                    EventType::Logout,
                    Outcome::Success,
                    Some(user_id),
                    json!({ "session": family_id }),
                )
                .await;
            }
        }
        Ok(())
    }

    pub async fn current_user(&self, principal: &Principal) -> Result<UserRecord, AuthError> {
        match users::find_by_id(self.db, principal.user_id).await? {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(AuthError::Unauthenticated),
        }
    }

    /// The user and the state of their session, for the web app. A revoked
    /// session counts as signed out even while its access token lives.
    pub async fn current_session(
        &self,
        principal: &Principal,
    ) -> Result<CurrentSession, AuthError> {
        let user = self.current_user(principal).await?;
        let Some(session_expires_at) =
            refresh_tokens::live_session_expiry(self.db, principal.session_id, self.now).await?
        else {
            return Err(AuthError::Unauthenticated);
        };
        Ok(CurrentSession {
            user: user.to_public(),
            access_expires_in_secs: (principal.expires_at - self.now).num_seconds().max(0),
            session_expires_at: session_expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// The user's live sessions, the caller's own marked.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionSummary>, AuthError> {
        let rows = refresh_tokens::live_sessions(self.db, principal.user_id, self.now).await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionSummary {
                id: row.family_id.to_string(),
                device: device::describe(row.user_agent.as_deref()),
                ip: row.ip,
                signed_in_at: rfc3339(row.signed_in_at),
                last_used_at: rfc3339(row.last_used_at),
                current: row.family_id == principal.session_id,
            })
            .collect())
    }

    /// Ends one of the caller's sessions. Another user's session, or one
    /// already ended, is `NotFound`: its existence is not revealed.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: Uuid,
    ) -> Result<(), AuthError> {
        if !refresh_tokens::revoke_user_session(self.db, principal.user_id, session_id, self.now)
            .await?
        {
            return Err(AuthError::NotFound);
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

    /// Ends every session of the caller but this one; returns how many
    /// tokens were revoked.
    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<u64, AuthError> {
        let revoked = refresh_tokens::revoke_user_sessions_except(
            self.db,
            principal.user_id,
            Some(principal.session_id),
            self.now,
        )
        .await?;
        self.audit(
            EventType::SessionRevoked,
            Outcome::Success,
            Some(principal.user_id),
            json!({ "others": true, "tokens_revoked": revoked }),
        )
        .await;
        Ok(revoked)
    }

    /// The caller's recent security activity, newest first.
    pub async fn activity(&self, principal: &Principal) -> Result<Vec<ActivityEntry>, AuthError> {
        let rows = audit::recent_for_user(self.db, principal.user_id, ACTIVITY_LIMIT).await?;
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

    /// Changes the display name and/or password. A password change needs
    /// the current password and ends every other session of the user.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        change: ProfileChange<'_>,
    ) -> Result<UserRecord, AuthError> {
        let user = self.current_user(principal).await?;
        let display_name = change.display_name.map(DisplayName::parse).transpose()?;
        let new_password = match change.new_password {
            Some(new) => {
                let context = [user.email.as_str(), user.display_name.as_str()];
                let new = Password::parse_new(new, &context)?;
                let current =
                    Password::parse_for_sign_in(change.current_password.unwrap_or_default())
                        .map_err(|_| AuthError::WrongCurrentPassword)?;
                let verified = self
                    .hasher
                    .verify(&current, user.stored_hash().as_ref())
                    .await?;
                if !verified.matches {
                    self.audit(
                        EventType::PasswordChange,
                        Outcome::Failure,
                        Some(user.id),
                        json!({}),
                    )
                    .await;
                    return Err(AuthError::WrongCurrentPassword);
                }
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
            users::update_password_hash(self.db, user.id, &hash, self.now).await?;
            let revoked = refresh_tokens::revoke_user_sessions_except(
                self.db,
                user.id,
                Some(principal.session_id),
                self.now,
            )
            .await?;
            self.audit(
                EventType::PasswordChange,
                Outcome::Success,
                Some(user.id),
                json!({ "other_sessions_revoked": revoked }),
            )
            .await;
        }
        self.current_user(principal).await
    }
}
