//! Sessions: issuing one (where every way of signing in ends), refreshing
//! it, reading it and signing out.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    authz_view::{LiveSession, Lookup},
    throttle::Scope,
    ServiceError, Services,
};
use crate::{
    model::{CurrentSession, SessionInfo, User},
    server::{
        credentials::tokens::{
            hash_refresh_token, Principal, RefreshToken, TokenPair, TokenSubject,
        },
        domain::events::{EventType, Outcome},
        platform::{
            env::{ConfigError, Env},
            telemetry::metrics::{self, Refresh},
        },
        store::{
            db::WriteTx,
            refresh_tokens::{self, NewRefresh, Presented, Rotation},
            sessions::{self, NewSession, SessionRecord},
            users::UserRecord,
        },
    },
};

/// How a refresh token presented was answered.
enum Refreshed {
    /// Spent for a new token.
    Rotated(Issued),
    /// Spent a moment ago: the same successor again (within the grace).
    Again(Issued),
    /// Spent long ago, so replayed: its session was ended.
    ReuseDetected,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session's absolute lifetime: its refresh tokens all end then.
    pub refresh_ttl: TimeDelta,
    /// A session not refreshed for this long can no longer be.
    pub idle_timeout: TimeDelta,
    /// How long a just-rotated refresh token is still honoured, so two tabs
    /// refreshing at the same moment do not sign the user out. Both get
    /// the same successor; after the window, presenting it again is reuse.
    pub reuse_grace: TimeDelta,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            refresh_ttl: TimeDelta::days(7),
            idle_timeout: TimeDelta::days(3),
            reuse_grace: TimeDelta::seconds(5),
        }
    }
}

impl SessionPolicy {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            refresh_ttl: env.seconds(
                "PORTCULLIS_REFRESH_TOKEN_TTL_SECS",
                defaults.refresh_ttl,
                1..=365 * 24 * 3600,
            )?,
            idle_timeout: env.span(
                "PORTCULLIS_SESSION_IDLE_TIMEOUT",
                defaults.idle_timeout,
                60..=365 * 24 * 3600,
            )?,
            reuse_grace: env.seconds(
                "PORTCULLIS_REFRESH_REUSE_GRACE_SECS",
                defaults.reuse_grace,
                0..=60,
            )?,
        })
    }
}

/// A signed-in session: the user and a fresh token pair.
pub struct Issued {
    pub user: UserRecord,
    pub session_id: Uuid,
    pub tokens: TokenPair,
    /// A device cookie for the browser, when it proved the password.
    pub device: Option<String>,
}

// By hand, so the device cookie is never printed.
impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("user", &self.user)
            .field("session_id", &self.session_id)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// When this session's tokens run out, as clients are told.
    pub fn session_info(&self) -> SessionInfo {
        SessionInfo {
            access_expires_at: super::rfc3339(self.tokens.access_expires_at),
            refresh_expires_at: super::rfc3339(self.tokens.refresh_expires_at),
        }
    }
}

impl Services<'_> {
    /// Starts a session for `user`, who has just proven who they are, in
    /// `tx` with the rest of what signing in writes. Every way of signing
    /// in ends here; the tokens are good once the caller commits `tx`.
    pub(super) async fn issue_session_in(
        &self,
        tx: &mut WriteTx,
        user: UserRecord,
    ) -> Result<Issued, ServiceError> {
        let session = NewSession {
            id: Uuid::new_v4(),
            user_id: user.id,
            created_at: self.now,
            expires_at: self.now + self.policies.sessions.refresh_ttl,
            user_agent: self.client.user_agent.as_deref(),
            ip: self.client.ip.as_deref(),
        };
        let refresh = RefreshToken::generate();
        let hash = refresh.hash();
        refresh_tokens::insert_with_session_in(
            tx,
            &session,
            &self.new_refresh(&user, session.id, &hash, session.expires_at),
        )
        .await?;
        self.mint(user, session.id, refresh, session.expires_at)
    }

    fn new_refresh<'t>(
        &'t self,
        user: &UserRecord,
        session_id: Uuid,
        token_hash: &'t [u8],
        expires_at: DateTime<Utc>,
    ) -> NewRefresh<'t> {
        NewRefresh {
            id: Uuid::new_v4(),
            family_id: session_id,
            user_id: user.id,
            token_hash,
            parent_id: None,
            issued_at: self.now,
            expires_at,
            user_agent: self.client.user_agent.as_deref(),
            ip: self.client.ip.as_deref(),
        }
    }

    /// Signs an access token to go with `refresh_token`; neither outlives
    /// the session.
    fn mint(
        &self,
        user: UserRecord,
        session_id: Uuid,
        refresh_token: RefreshToken,
        session_ends_at: DateTime<Utc>,
    ) -> Result<Issued, ServiceError> {
        let grants = user.grants();
        let subject = TokenSubject {
            user_id: user.id,
            email: &user.email,
            grants: &grants,
            attributes: &user.attributes,
            authz_version: user.authz_version,
        };
        let (access_token, access_expires_at) =
            self.tokens
                .issue(&subject, session_id, self.now, session_ends_at)?;
        Ok(Issued {
            user,
            session_id,
            tokens: TokenPair {
                access_token,
                access_expires_at,
                refresh_token,
                refresh_expires_at: session_ends_at,
            },
            device: None,
        })
    }

    /// Sessions used since then are not idle.
    pub(super) fn idle_since(&self) -> DateTime<Utc> {
        self.now - self.policies.sessions.idle_timeout
    }

    fn is_live(&self, session: &SessionRecord) -> bool {
        session.is_live(self.now, self.idle_since())
    }

    /// Rotates `raw`: the old token is spent and a new one issued. A spent
    /// token presented again within the grace window gets the successor it
    /// already has; after it, it revokes its session. `continues`, the
    /// session of the access token sent along (if any), must be the token's.
    pub async fn refresh(
        &self,
        raw: &str,
        continues: Option<Uuid>,
    ) -> Result<Issued, ServiceError> {
        let (outcome, result) = match self.rotate(raw, continues).await {
            Ok(Refreshed::Rotated(issued)) => (Refresh::Rotated, Ok(issued)),
            Ok(Refreshed::Again(issued)) => (Refresh::Grace, Ok(issued)),
            Ok(Refreshed::ReuseDetected) => {
                (Refresh::ReuseDetected, Err(ServiceError::Unauthenticated))
            }
            Err(err) => {
                let outcome = match err {
                    ServiceError::Unauthenticated => Refresh::Rejected,
                    ServiceError::Throttled(_) => Refresh::Throttled,
                    _ => Refresh::Error,
                };
                (outcome, Err(err))
            }
        };
        metrics::refresh(outcome);
        result
    }

    async fn rotate(&self, raw: &str, continues: Option<Uuid>) -> Result<Refreshed, ServiceError> {
        self.rate_limit(Scope::RefreshIp).await?;
        let hash = hash_refresh_token(raw);
        let Some(presented) = refresh_tokens::find_presented(self.db, &hash).await? else {
            return Err(ServiceError::Unauthenticated);
        };
        if continues.is_some_and(|session| session != presented.session.id) {
            // Someone tossed in a refresh cookie of another session.
            tracing::warn!(
                user_id = %presented.user.id,
                "refresh token of another session than the access token: refused"
            );
            return Err(ServiceError::Unauthenticated);
        }
        if !self.is_live(&presented.session) {
            return Err(ServiceError::Unauthenticated);
        }
        if presented.user.disabled {
            sessions::revoke(self.db, presented.session.id, self.now).await?;
            return Err(ServiceError::Unauthenticated);
        }
        if presented.token.rotated_at.is_some() {
            return self.presented_again(raw, presented).await;
        }

        let successor = RefreshToken::generate();
        let successor_hash = successor.hash();
        let Some(seal) = successor.seal_for(raw) else {
            return Err(ServiceError::Unauthenticated);
        };
        let Presented {
            token,
            session,
            user,
        } = presented;
        let new = self.new_refresh(&user, session.id, &successor_hash, session.expires_at);
        let rotation = Rotation {
            parent_id: token.id,
            successor_seal: &seal,
            idle_since: self.idle_since(),
            audit_details: json!({ "session": session.id }),
        };
        if refresh_tokens::rotate(self.db, &new, rotation, self.now).await? {
            return self
                .mint(user, session.id, successor, session.expires_at)
                .map(Refreshed::Rotated);
        }
        // Lost a race: another refresh rotated it, or the session ended.
        match refresh_tokens::find_presented(self.db, &hash).await? {
            Some(now_stored) if now_stored.token.rotated_at.is_some() => {
                self.presented_again(raw, now_stored).await
            }
            _ => Err(ServiceError::Unauthenticated),
        }
    }

    /// A token already rotated, presented again: within the grace window
    /// (another tab refreshing at the same moment), the same successor;
    /// after it, a replay, so the session ends.
    async fn presented_again(
        &self,
        raw: &str,
        presented: Presented,
    ) -> Result<Refreshed, ServiceError> {
        let Presented {
            token,
            session,
            user,
        } = presented;
        let rotated_at = token.rotated_at.unwrap_or(self.now);
        if self.now - rotated_at > self.policies.sessions.reuse_grace {
            return self.reuse_detected(&session).await;
        }
        if !self.is_live(&session) {
            return Err(ServiceError::Unauthenticated);
        }
        let Some(successor) = token
            .successor_seal
            .as_deref()
            .and_then(|seal| RefreshToken::unseal(seal, raw))
        else {
            return Err(ServiceError::Unauthenticated);
        };
        self.audit(
            EventType::Refresh,
            Outcome::Success,
            Some(user.id),
            json!({ "session": session.id, "repeated": true }),
        )
        .await;
        self.mint(user, session.id, successor, session.expires_at)
            .map(Refreshed::Again)
    }

    async fn reuse_detected(&self, session: &SessionRecord) -> Result<Refreshed, ServiceError> {
        sessions::revoke(self.db, session.id, self.now).await?;
        tracing::warn!(user_id = %session.user_id, session = %session.id, "refresh token reuse: session revoked");
        self.audit(
            EventType::RefreshReuse,
            Outcome::Failure,
            Some(session.user_id),
            json!({ "session": session.id }),
        )
        .await;
        Ok(Refreshed::ReuseDetected)
    }

    /// Ends the session that `raw` (or else `principal`) belongs to. A
    /// refresh token counts while its session is alive; an access token
    /// while it is valid. With neither, `Unauthenticated`.
    pub async fn logout(
        &self,
        raw: Option<&str>,
        principal: Option<&Principal>,
    ) -> Result<(), ServiceError> {
        let from_refresh = match raw {
            Some(raw) => refresh_tokens::find_presented(self.db, &hash_refresh_token(raw))
                .await?
                .filter(|p| self.is_live(&p.session))
                .map(|p| (p.session.id, p.user.id)),
            None => None,
        };
        let Some((session_id, user_id)) =
            from_refresh.or_else(|| principal.map(|p| (p.session_id, p.user_id)))
        else {
            return Err(ServiceError::Unauthenticated);
        };
        if sessions::revoke(self.db, session_id, self.now).await? {
            self.audit(
                EventType::Logout,
                Outcome::Success,
                Some(user_id),
                json!({ "session": session_id }),
            )
            .await;
        }
        Ok(())
    }

    /// The bearer's user, while their session is alive, they are not
    /// disabled and the token's authorization is current (else it is
    /// stale: a refresh brings it up to date): every use case acting for a
    /// signed-in user starts here. An access token outlives a revocation;
    /// this check does not. In the steady state it reads no database: the
    /// replica's view answers (see `authz_view`). The user carries the
    /// token's roles and permissions.
    pub async fn authorize(&self, principal: &Principal) -> Result<LiveSession, ServiceError> {
        let live = self.check_session(principal).await?;
        // The version is current, so the token's roles and permissions
        // are the user's: no need to aggregate them again.
        let user =
            UserRecord::clone(&live.user).with_grants(&principal.roles, &principal.permissions);
        Ok(LiveSession {
            user: Arc::new(user),
            ..live
        })
    }

    /// [`Services::authorize`] without the grants: for a caller that only
    /// needs to know the session stands (and the user's own columns),
    /// which then costs no copy of the user.
    pub async fn check_session(&self, principal: &Principal) -> Result<LiveSession, ServiceError> {
        let found = self
            .unrevoked_session(principal.session_id, principal.user_id)
            .await?;
        self.judge(principal, found)
    }

    /// The session `session_id` of `user_id` unless revoked, with its user:
    /// from the replica's view, or else read and remembered there.
    pub(super) async fn unrevoked_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<LiveSession>, ServiceError> {
        let generation = match self.authz.lookup(self.db, session_id, user_id).await {
            Lookup::Known(live) => return Ok(Some(live)),
            Lookup::Unknown(generation) => generation,
        };
        // Boxed, as the view answers most checks without it.
        let found = Box::pin(sessions::unrevoked_with_user(
            self.db, session_id, user_id, self.now,
        ))
        .await?
        .map(|(session, user)| LiveSession {
            session_expires_at: session.expires_at,
            user: Arc::new(user),
        });
        if let (Some(generation), Some(live)) = (generation, &found) {
            self.authz
                .remember(generation, session_id, live.session_expires_at, &live.user);
        }
        Ok(found)
    }

    /// The verdict on `principal`, given its session if that is unrevoked.
    fn judge(
        &self,
        principal: &Principal,
        found: Option<LiveSession>,
    ) -> Result<LiveSession, ServiceError> {
        match found {
            Some(live) if live.user.disabled || live.session_expires_at <= self.now => {
                Err(ServiceError::Unauthenticated)
            }
            Some(live) if principal.authz_version != live.user.authz_version => {
                Err(ServiceError::StaleAuthorization)
            }
            Some(live) => Ok(live),
            None => Err(ServiceError::Unauthenticated),
        }
    }

    /// The user and the state of their session, for the web app. A revoked
    /// session counts as signed out even while its access token lives.
    pub async fn current_session(
        &self,
        principal: &Principal,
    ) -> Result<CurrentSession, ServiceError> {
        let live = self.authorize(principal).await?;
        Ok(CurrentSession {
            user: User::from(&*live.user),
            access_expires_in_secs: (principal.expires_at - self.now).num_seconds().max(0),
            session_expires_at: super::rfc3339(live.session_expires_at),
        })
    }
}
