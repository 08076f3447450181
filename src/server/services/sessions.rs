//! Sessions: issuing one (where every way of signing in ends), refreshing
//! it, reading it and signing out.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{throttle::Scope, ServiceError, Services};
use crate::{
    model::{CurrentSession, SessionInfo, User},
    server::{
        credentials::tokens::{hash_refresh_token, Principal, RefreshToken, TokenPair},
        domain::events::{EventType, Outcome},
        platform::env::{ConfigError, Env},
        store::{
            refresh_tokens::{self, NewRefresh, RefreshRecord, TokenAndUser},
            users::UserRecord,
        },
    },
};

/// How long a just-rotated refresh token is still honoured, so two tabs
/// refreshing at the same moment do not sign the user out.
pub const REUSE_GRACE: TimeDelta = TimeDelta::seconds(10);

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session's absolute lifetime: its refresh tokens all end then.
    pub refresh_ttl: TimeDelta,
}

impl SessionPolicy {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            refresh_ttl: env.seconds(
                "PORTCULLIS_REFRESH_TOKEN_TTL_SECS",
                TimeDelta::days(7),
                1..=365 * 24 * 3600,
            )?,
        })
    }
}

/// A signed-in session: the user and a fresh token pair.
#[derive(Debug)]
pub struct Issued {
    pub user: UserRecord,
    pub session_id: Uuid,
    pub tokens: TokenPair,
}

impl Issued {
    pub fn current_session(&self, now: DateTime<Utc>) -> CurrentSession {
        CurrentSession {
            user: User::from(&self.user),
            access_expires_in_secs: self.tokens.access_expires_in_secs(now),
            session_expires_at: super::rfc3339(self.tokens.refresh_expires_at),
        }
    }

    /// When this session's tokens run out, as clients are told.
    pub fn session_info(&self) -> SessionInfo {
        SessionInfo {
            access_expires_at: super::rfc3339(self.tokens.access_expires_at),
            refresh_expires_at: super::rfc3339(self.tokens.refresh_expires_at),
        }
    }
}

impl Services<'_> {
    /// Starts a session for `user`, who has just proven who they are. Every
    /// way of signing in ends here.
    pub async fn issue_session(&self, user: UserRecord) -> Result<Issued, ServiceError> {
        let family_id = Uuid::new_v4();
        let refresh_expires_at = self.now + self.policies.sessions.refresh_ttl;
        let refresh = RefreshToken::generate();
        let hash = refresh.hash();
        refresh_tokens::insert(
            self.db,
            &self.new_refresh(&user, family_id, &hash, None, refresh_expires_at),
        )
        .await?;
        self.mint(user, family_id, refresh, refresh_expires_at)
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

    /// Signs an access token to go with `refresh_token`.
    fn mint(
        &self,
        user: UserRecord,
        session_id: Uuid,
        refresh_token: RefreshToken,
        refresh_expires_at: DateTime<Utc>,
    ) -> Result<Issued, ServiceError> {
        let (access_token, access_expires_at) =
            self.tokens
                .issue(user.id, session_id, &user.email, &user.role, self.now)?;
        Ok(Issued {
            user,
            session_id,
            tokens: TokenPair {
                access_token,
                // An access token never outlives its session.
                access_expires_at: access_expires_at.min(refresh_expires_at),
                refresh_token,
                refresh_expires_at,
            },
        })
    }

    /// Rotates `raw`: the old token is spent and a new one issued. A spent
    /// token presented again after the grace window revokes its family.
    pub async fn refresh(&self, raw: &str) -> Result<Issued, ServiceError> {
        self.rate_limit(Scope::RefreshIp).await?;
        let Some(TokenAndUser {
            token: record,
            user,
        }) = refresh_tokens::find_with_user(self.db, &hash_refresh_token(raw)).await?
        else {
            return Err(ServiceError::Unauthenticated);
        };
        if record.revoked_at.is_some() || record.expires_at <= self.now {
            return Err(ServiceError::Unauthenticated);
        }
        if user.disabled {
            refresh_tokens::revoke_family(self.db, record.family_id, self.now).await?;
            return Err(ServiceError::Unauthenticated);
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
                return self.mint(user, record.family_id, refresh, expires_at);
            }
            // Lost a race: another refresh rotated it, or a sign-out
            // revoked it.
            None => match refresh_tokens::find_by_hash(self.db, &hash_refresh_token(raw)).await? {
                Some(now_stored) if now_stored.revoked_at.is_none() => {
                    now_stored.rotated_at.unwrap_or(self.now)
                }
                _ => return Err(ServiceError::Unauthenticated),
            },
        };
        if !self.within_grace(rotated_at) {
            return self.reuse_detected(&record).await;
        }
        // A concurrent refresh (another tab): hand out a sibling, unless the
        // session ended meanwhile.
        if !refresh_tokens::insert_unless_revoked(self.db, &successor).await? {
            return Err(ServiceError::Unauthenticated);
        }
        self.audit(
            EventType::Refresh,
            Outcome::Success,
            Some(user.id),
            json!({ "session": record.family_id }),
        )
        .await;
        self.mint(user, record.family_id, refresh, expires_at)
    }

    fn within_grace(&self, rotated_at: DateTime<Utc>) -> bool {
        self.now - rotated_at <= REUSE_GRACE
    }

    async fn reuse_detected(&self, record: &RefreshRecord) -> Result<Issued, ServiceError> {
        let revoked = refresh_tokens::revoke_family(self.db, record.family_id, self.now).await?;
        tracing::warn!(user_id = %record.user_id, session = %record.family_id, "refresh token reuse: session revoked");
        self.audit(
            EventType::RefreshReuse,
            Outcome::Failure,
            Some(record.user_id),
            json!({ "session": record.family_id, "tokens_revoked": revoked }),
        )
        .await;
        Err(ServiceError::Unauthenticated)
    }

    /// Ends the session that `raw` (or else `principal`) belongs to. Never
    /// fails for a missing or unknown session: signing out is idempotent.
    pub async fn logout(
        &self,
        raw: Option<&str>,
        principal: Option<&Principal>,
    ) -> Result<(), ServiceError> {
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

    /// The user and the state of their session, for the web app. A revoked
    /// session counts as signed out even while its access token lives.
    pub async fn current_session(
        &self,
        principal: &Principal,
    ) -> Result<CurrentSession, ServiceError> {
        let user = self.current_user(principal).await?;
        let Some(session_expires_at) =
            refresh_tokens::live_session_expiry(self.db, principal.session_id, self.now).await?
        else {
            return Err(ServiceError::Unauthenticated);
        };
        Ok(CurrentSession {
            user: User::from(&user),
            access_expires_in_secs: (principal.expires_at - self.now).num_seconds().max(0),
            session_expires_at: super::rfc3339(session_expires_at),
        })
    }
}
