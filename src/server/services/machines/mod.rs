//! Machine identities: API keys, service accounts and agents, and the
//! tokens they get. This module says who a machine caller is and what it
//! may do now; the use cases are its submodules.
//!
//! What a machine may do is the intersection of everything it stands on:
//! its key's scopes, its account's permissions and its owner's current
//! permissions. The replica's view remembers that standing, so a valid key
//! costs no database read in the steady state, and forgets it within a
//! second of any change to the key, the account or the owner.

pub mod agents;
pub mod api_keys;
pub mod oauth;
pub mod unknown_keys;
pub mod user_lookup;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{
    authz_view::{StandingKey, StandingLookup},
    throttle::address_key,
    ServiceError, Services,
};
use crate::{
    model::Permission,
    server::{
        credentials::{
            api_keys::{KeyKind, PresentedKey},
            tokens::{MachineToken, Principal},
        },
        domain::machines::{
            capped, known_permissions, AccountKind, KeyUse, MachinePrincipal, Standing,
        },
        platform::{
            env::{ConfigError, Env},
            telemetry::metrics,
        },
        store::{
            api_keys::{self as key_rows, KeyAndAccount},
            service_accounts, users,
            users::UserRecord,
        },
    },
};

/// The throttle scope of unknown keys, in logs and metrics.
const UNKNOWN_KEY_SCOPE: &str = "unknown_key_ip";

/// How long keys and machine tokens live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachinePolicy {
    /// A key's lifetime unless its maker picks one.
    pub key_default_lifetime: TimeDelta,
    pub key_max_lifetime: TimeDelta,
    /// A machine token's lifetime: 5 minutes at most (the bound),
    /// so a token outlives a revocation only that long at services that
    /// check tokens locally.
    pub token_ttl: TimeDelta,
}

impl Default for MachinePolicy {
    fn default() -> Self {
        Self {
            key_default_lifetime: TimeDelta::days(90),
            key_max_lifetime: TimeDelta::days(365),
            token_ttl: TimeDelta::minutes(5),
        }
    }
}

impl MachinePolicy {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_days: i64 = env.number("PORTCULLIS_API_KEY_MAX_DAYS", 365, 1..=3650)?;
        let key_max_lifetime = TimeDelta::days(max_days);
        Ok(Self {
            key_default_lifetime: defaults.key_default_lifetime.min(key_max_lifetime),
            key_max_lifetime,
            token_ttl: env.seconds(
                "PORTCULLIS_MACHINE_TOKEN_TTL_SECS",
                defaults.token_ttl,
                1..=300,
            )?,
        })
    }

    /// When a key made at `now` expires: after `days` (the default unless
    /// given), or never when asked by someone `may_choose_never`.
    pub fn key_expiry(
        &self,
        days: Option<i64>,
        never: bool,
        may_choose_never: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ServiceError> {
        if never {
            if days.is_some() {
                return Err(ServiceError::InvalidExpiry);
            }
            return if may_choose_never {
                Ok(None)
            } else {
                Err(ServiceError::Forbidden)
            };
        }
        let lifetime = match days {
            None => self.key_default_lifetime,
            Some(days) if days >= 1 && TimeDelta::days(days) <= self.key_max_lifetime => {
                TimeDelta::days(days)
            }
            Some(_) => return Err(ServiceError::InvalidExpiry),
        };
        Ok(Some(now + lifetime))
    }
}

/// A credential a machine presents, its form checked but not its standing.
#[derive(Debug, Clone)]
pub enum MachineCredential {
    Key(PresentedKey),
    Token(MachineToken),
}

/// What a request to an endpoint machines may call presents.
#[derive(Debug, Clone)]
pub enum Presented {
    /// A person's access token (bearer or cookie).
    Person(Principal),
    Machine(MachineCredential),
}

/// What acts on the admin API: a person's token, or a machine's credential.
/// Only a person's own key with the permission among its scopes gets past
/// [`Services::authorize_for`](super::Services::authorize_for); every
/// other machine is refused there.
pub trait Acting {
    fn acting(&self) -> ActingAs<'_>;
}

pub enum ActingAs<'a> {
    Person(&'a Principal),
    Machine(&'a MachineCredential),
}

impl Acting for Principal {
    fn acting(&self) -> ActingAs<'_> {
        ActingAs::Person(self)
    }
}

impl Acting for Presented {
    fn acting(&self) -> ActingAs<'_> {
        match self {
            Self::Person(principal) => ActingAs::Person(principal),
            Self::Machine(credential) => ActingAs::Machine(credential),
        }
    }
}

/// A machine caller whose credential stands.
#[derive(Debug, Clone)]
pub struct Machine {
    pub principal: MachinePrincipal,
    /// What it may do now: every ceiling applied.
    pub permissions: Vec<Permission>,
    /// The key presented or the token was made with.
    pub key_id: Option<Uuid>,
    /// In a token delegated by a user: the user.
    pub on_behalf_of: Option<Uuid>,
}

impl Machine {
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The service account or agent, unless this is a person's own key.
    pub fn account_id(&self) -> Option<Uuid> {
        match self.principal {
            MachinePrincipal::Account { id, .. } => Some(id),
            MachinePrincipal::Person { .. } => None,
        }
    }
}

/// Who is calling, once their credential stands.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A person, with their user (and the token's current grants).
    Person {
        principal: Principal,
        user: Arc<UserRecord>,
    },
    Machine(Machine),
}

impl Caller {
    pub fn allows(&self, permission: Permission) -> bool {
        match self {
            Self::Person { principal, .. } => principal.allows(permission),
            Self::Machine(machine) => machine.allows(permission),
        }
    }

    /// The person, for what only people may do: managing keys and agents.
    pub fn person(&self) -> Result<&Arc<UserRecord>, ServiceError> {
        match self {
            Self::Person { user, .. } => Ok(user),
            Self::Machine(_) => Err(ServiceError::Forbidden),
        }
    }
}

impl Services<'_> {
    /// The caller behind `presented`, if its credential stands.
    pub async fn caller(&self, presented: &Presented) -> Result<Caller, ServiceError> {
        match presented {
            Presented::Person(principal) => {
                let live = self.authorize(principal).await?;
                Ok(Caller::Person {
                    principal: principal.clone(),
                    user: live.user,
                })
            }
            Presented::Machine(credential) => self.machine(credential).await.map(Caller::Machine),
        }
    }

    /// The user a person's own key acts for, limited to the key's scopes
    /// (no role, not even `admin`), if those hold every one of
    /// `permissions`: 403 for any other machine.
    pub(in crate::server::services) async fn key_acting_for_user(
        &self,
        credential: &MachineCredential,
        permissions: &[Permission],
    ) -> Result<UserRecord, ServiceError> {
        let machine = self.machine(credential).await?;
        let MachinePrincipal::Person { user_id, .. } = machine.principal else {
            return Err(ServiceError::Forbidden);
        };
        if !permissions.iter().all(|p| machine.allows(*p)) {
            return Err(ServiceError::Forbidden);
        }
        let user = users::find_by_id(self.db, user_id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(user.with_grants(&[], &machine.permissions))
    }

    /// The machine behind a key or a machine token: 401 unless it stands.
    pub async fn machine(&self, credential: &MachineCredential) -> Result<Machine, ServiceError> {
        match credential {
            MachineCredential::Key(key) => {
                let standing = self.key_standing(key).await?;
                let key_id = standing.key.as_ref().map(|k| k.id);
                if let Some(id) = key_id {
                    self.note_key_use(id).await;
                }
                Ok(Machine {
                    principal: standing.principal.clone(),
                    permissions: standing.permissions.clone(),
                    key_id,
                    on_behalf_of: None,
                })
            }
            MachineCredential::Token(token) => self.token_machine(token).await,
        }
    }

    async fn token_machine(&self, token: &MachineToken) -> Result<Machine, ServiceError> {
        if token.expires_at <= self.now {
            return Err(ServiceError::Unauthenticated);
        }
        let (standing, key_id, on_behalf_of) = match token.actor {
            // Delegated: the user's session must stand, and the agent.
            Some(agent) => {
                if !self.session_stands(token.credential, token.subject).await? {
                    return Err(ServiceError::Unauthenticated);
                }
                let standing = self.account_standing(agent).await?;
                (standing, None, Some(token.subject))
            }
            None => {
                let standing = self
                    .standing(StandingKey::Key(token.credential), |s| async move {
                        match key_rows::find_by_id(s.db, token.credential).await? {
                            Some(found) => s.read_key_standing(found).await,
                            None => Ok(None),
                        }
                    })
                    .await?;
                if standing.principal.id() != token.subject {
                    return Err(ServiceError::Unauthenticated);
                }
                (standing, Some(token.credential), None)
            }
        };
        if standing.principal.id() != token.client_id && on_behalf_of.is_none() {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(Machine {
            principal: standing.principal.clone(),
            permissions: capped(&token.permissions, &[&standing.permissions]),
            key_id,
            on_behalf_of,
        })
    }

    /// What the key with this hash stands on; 401 for an unknown, revoked
    /// or expired key, or one whose account or owner is disabled.
    pub(super) async fn key_standing(
        &self,
        key: &PresentedKey,
    ) -> Result<Arc<Standing>, ServiceError> {
        let hash = key.hash;
        self.standing(StandingKey::KeyHash(hash), |s| async move {
            let address = address_key(s.client);
            let limit = s.policies.throttle.unknown_keys_per_ip;
            let throttled = s.policies.throttle.enabled;
            if throttled && !s.unknown_keys.allows(&address, limit, s.now) {
                tracing::info!(
                    scope = UNKNOWN_KEY_SCOPE,
                    %address,
                    "throttled: an unknown key refused without a lookup"
                );
                metrics::throttle_block(UNKNOWN_KEY_SCOPE);
                return Ok(None);
            }
            let Some(found) = key_rows::find_by_hash(s.db, &hash).await? else {
                if throttled {
                    s.unknown_keys.note(&address, limit, s.now);
                }
                return Ok(None);
            };
            // The lookup matched by index; this says so without a
            // data-dependent early exit.
            if !bool::from(found.key_hash.as_slice().ct_eq(&hash)) {
                return Ok(None);
            }
            s.read_key_standing(found).await
        })
        .await
    }

    /// What a service account or agent stands on, without a key.
    async fn account_standing(&self, id: Uuid) -> Result<Arc<Standing>, ServiceError> {
        self.standing(StandingKey::Account(id), |s| async move {
            let Some(account) = service_accounts::find(s.db, id).await? else {
                return Ok(None);
            };
            let Some(kind) = AccountKind::parse(&account.kind) else {
                return Ok(None);
            };
            if account.disabled {
                return Ok(None);
            }
            let Some(owner_permissions) = s.owner_permissions(account.owner_id).await? else {
                return Ok(None);
            };
            let granted = known_permissions(&account.permissions);
            Ok(Some(Standing {
                principal: MachinePrincipal::Account {
                    id,
                    kind,
                    owner_id: account.owner_id,
                },
                key: None,
                permissions: capped(&granted, &[&owner_permissions]),
                depends_on: vec![id, account.owner_id],
            }))
        })
        .await
    }

    /// The view's answer for `key`, or else `read`'s (remembered). `None`
    /// from `read` is a 401, and is not remembered.
    async fn standing<'s, F, Fut>(
        &'s self,
        key: StandingKey,
        read: F,
    ) -> Result<Arc<Standing>, ServiceError>
    where
        F: FnOnce(&'s Self) -> Fut,
        Fut: std::future::Future<Output = Result<Option<Standing>, ServiceError>>,
    {
        let generation = match self.authz.lookup_standing(self.db, key).await {
            StandingLookup::Known(standing) => {
                return self.judge_standing(standing);
            }
            StandingLookup::Unknown(generation) => generation,
        };
        let standing = Arc::new(
            Box::pin(read(self))
                .await?
                .ok_or(ServiceError::Unauthenticated)?,
        );
        if let Some(generation) = generation {
            self.authz.remember_standing(generation, key, &standing);
        }
        self.judge_standing(standing)
    }

    fn judge_standing(&self, standing: Arc<Standing>) -> Result<Arc<Standing>, ServiceError> {
        if standing.key_live(self.now) {
            Ok(standing)
        } else {
            Err(ServiceError::Unauthenticated)
        }
    }

    /// A key's standing from its row: `None` when its account or owner is
    /// disabled or gone.
    async fn read_key_standing(
        &self,
        found: KeyAndAccount,
    ) -> Result<Option<Standing>, ServiceError> {
        let key = &found.key;
        let Some(owner_id) = found.owner_id else {
            return Ok(None);
        };
        let Some(owner) = users::find_by_id(self.db, owner_id).await? else {
            return Ok(None);
        };
        if owner.disabled {
            return Ok(None);
        }
        let owner_permissions = owner.grants().permissions;
        let scopes = key.scopes.as_ref().map(|s| known_permissions(s));
        let key_use = Some(KeyUse {
            id: key.id,
            expires_at: key.expires_at,
        });
        let standing = match (KeyKind::parse(&key.kind), key.account_id) {
            (Some(KeyKind::Personal), None) => Standing {
                principal: MachinePrincipal::Person {
                    user_id: owner.id,
                    email: owner.email.clone(),
                },
                key: key_use,
                permissions: capped(&scopes.unwrap_or_default(), &[&owner_permissions]),
                depends_on: vec![key.id, owner.id],
            },
            (Some(KeyKind::Service), Some(account_id)) => {
                let kind = found.account_kind.as_deref().and_then(AccountKind::parse);
                let (Some(kind), Some(false)) = (kind, found.account_disabled) else {
                    return Ok(None);
                };
                let granted = found
                    .account_permissions
                    .as_ref()
                    .map(|p| known_permissions(p))
                    .unwrap_or_default();
                let wanted = scopes.unwrap_or_else(|| granted.clone());
                Standing {
                    principal: MachinePrincipal::Account {
                        id: account_id,
                        kind,
                        owner_id,
                    },
                    key: key_use,
                    permissions: capped(&wanted, &[&granted, &owner_permissions]),
                    depends_on: vec![key.id, account_id, owner_id],
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(standing))
    }

    /// The permissions `owner_id` holds now, unless disabled or gone.
    async fn owner_permissions(
        &self,
        owner_id: Uuid,
    ) -> Result<Option<Vec<Permission>>, ServiceError> {
        Ok(users::find_by_id(self.db, owner_id)
            .await?
            .filter(|owner| !owner.disabled)
            .map(|owner| owner.grants().permissions))
    }

    /// Whether the user's session stands (for a token delegated from it).
    async fn session_stands(&self, session_id: Uuid, user_id: Uuid) -> Result<bool, ServiceError> {
        Ok(self
            .unrevoked_session(session_id, user_id)
            .await?
            .is_some_and(|live| !live.user.disabled && live.session_expires_at > self.now))
    }

    /// Notes that a key was used, at most once a minute per key and
    /// replica (and, by the row's own time, across replicas). A failure is
    /// logged: it must not refuse the request.
    async fn note_key_use(&self, key_id: Uuid) {
        if !self.authz.claim_key_use_note(key_id, self.now) {
            return;
        }
        let noted_since = self.now - TimeDelta::minutes(1);
        if let Err(error) = key_rows::note_use(
            self.db,
            key_id,
            self.client.ip.as_deref(),
            self.now,
            noted_since,
        )
        .await
        {
            tracing::warn!(%error, key = %key_id, "could not note a key's use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_key_lives_90_days_unless_chosen_within_the_maximum() {
        let policy = MachinePolicy::default();
        let at = |days, never, admin| policy.key_expiry(days, never, admin, now());
        assert_eq!(
            at(None, false, false).unwrap(),
            Some(now() + TimeDelta::days(90))
        );
        assert_eq!(
            at(Some(1), false, false).unwrap(),
            Some(now() + TimeDelta::days(1))
        );
        assert_eq!(
            at(Some(365), false, false).unwrap(),
            Some(now() + TimeDelta::days(365))
        );
        for days in [0, -1, 366] {
            assert!(matches!(
                at(Some(days), false, true),
                Err(ServiceError::InvalidExpiry)
            ));
        }
        // Never: an administrator's explicit choice, and only that.
        assert_eq!(at(None, true, true).unwrap(), None);
        assert!(matches!(
            at(None, true, false),
            Err(ServiceError::Forbidden)
        ));
        assert!(matches!(
            at(Some(5), true, true),
            Err(ServiceError::InvalidExpiry)
        ));
    }
}
