//! When to refuse a request for coming too often. Sign-in failures back off
//! exponentially per account and per client address; sign-up and refresh
//! have plain per-address rate limits. All counts live in the database.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{ServiceError, Services};
use crate::{
    server::{
        credentials::device_cookies::Device,
        domain::{
            client::ClientInfo,
            events::{EventType, Outcome},
        },
        platform::{
            env::{invalid, ConfigError, Env},
            telemetry::metrics,
        },
        store::{
            db::{Db, WriteTx},
            rate_limits::{self, Claim, Hit, Settle},
        },
    },
    validate::Email,
};

/// At most `max` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: TimeDelta,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Off only for measurements and benchmarks.
    pub enabled: bool,
    /// Failed sign-ins on one account from one network (an IPv4 address,
    /// an IPv6 /64), or from one known device, before backing off begins.
    pub login_failures_per_account: u32,
    /// Failed sign-ins on one account from anywhere but its known devices:
    /// softer, so that others failing cannot lock the owner out for long.
    pub login_failures_per_account_all_networks: u32,
    /// Failed sign-ins from one address, over any accounts, before backing off.
    pub login_failures_per_ip: u32,
    /// The first delay; each further failure doubles it, up to `backoff_max`.
    pub backoff_base: TimeDelta,
    pub backoff_max: TimeDelta,
    pub signup_per_ip: RateLimit,
    pub refresh_per_ip: RateLimit,
    /// Machine tokens made per OAuth client, and per address.
    pub token_per_client: RateLimit,
    pub token_per_ip: RateLimit,
    /// API keys no key matched, per address, before its next unknown key
    /// is refused without a lookup (counted per replica, in memory).
    pub unknown_keys_per_ip: RateLimit,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            login_failures_per_account: 5,
            login_failures_per_account_all_networks: 50,
            login_failures_per_ip: 20,
            backoff_base: TimeDelta::seconds(5),
            backoff_max: TimeDelta::minutes(15),
            signup_per_ip: RateLimit {
                max: 20,
                window: TimeDelta::hours(1),
            },
            refresh_per_ip: RateLimit {
                max: 600,
                window: TimeDelta::minutes(1),
            },
            // A token lives up to 5 minutes: a client needs a few an hour,
            // a fleet of replicas sharing one client a few a minute.
            token_per_client: RateLimit {
                max: 120,
                window: TimeDelta::minutes(1),
            },
            token_per_ip: RateLimit {
                max: 600,
                window: TimeDelta::minutes(1),
            },
            // A client with a stale key retries a few times a minute; a
            // flood of made-up keys is bounded to this many reads.
            unknown_keys_per_ip: RateLimit {
                max: 60,
                window: TimeDelta::minutes(1),
            },
        }
    }
}

impl ThrottlePolicy {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let count = |name, default| env.number(name, default, 1..=1_000_000);
        let backoff_base = env.seconds(
            "PORTCULLIS_LOGIN_BACKOFF_BASE_SECS",
            defaults.backoff_base,
            1..=3600,
        )?;
        let backoff_max = env.seconds(
            "PORTCULLIS_LOGIN_BACKOFF_MAX_SECS",
            defaults.backoff_max,
            1..=24 * 3600,
        )?;
        if backoff_max < backoff_base {
            return Err(invalid(
                "PORTCULLIS_LOGIN_BACKOFF_MAX_SECS",
                "must not be shorter than PORTCULLIS_LOGIN_BACKOFF_BASE_SECS",
            ));
        }
        Ok(Self {
            enabled: env.bool("PORTCULLIS_THROTTLE", defaults.enabled)?,
            login_failures_per_account: count(
                "PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT",
                defaults.login_failures_per_account,
            )?,
            login_failures_per_account_all_networks: count(
                "PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT_ALL_NETWORKS",
                defaults.login_failures_per_account_all_networks,
            )?,
            login_failures_per_ip: count(
                "PORTCULLIS_LOGIN_FAILURES_PER_IP",
                defaults.login_failures_per_ip,
            )?,
            backoff_base,
            backoff_max,
            signup_per_ip: RateLimit {
                max: count(
                    "PORTCULLIS_SIGNUP_LIMIT_PER_HOUR",
                    defaults.signup_per_ip.max,
                )?,
                ..defaults.signup_per_ip
            },
            refresh_per_ip: RateLimit {
                max: count(
                    "PORTCULLIS_REFRESH_LIMIT_PER_MINUTE",
                    defaults.refresh_per_ip.max,
                )?,
                ..defaults.refresh_per_ip
            },
            token_per_client: RateLimit {
                max: count(
                    "PORTCULLIS_TOKEN_LIMIT_PER_CLIENT_PER_MINUTE",
                    defaults.token_per_client.max,
                )?,
                ..defaults.token_per_client
            },
            token_per_ip: RateLimit {
                max: count(
                    "PORTCULLIS_TOKEN_LIMIT_PER_IP_PER_MINUTE",
                    defaults.token_per_ip.max,
                )?,
                ..defaults.token_per_ip
            },
            unknown_keys_per_ip: RateLimit {
                max: count(
                    "PORTCULLIS_UNKNOWN_KEY_LIMIT_PER_MINUTE",
                    defaults.unknown_keys_per_ip.max,
                )?,
                ..defaults.unknown_keys_per_ip
            },
        })
    }
}

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One account from one network.
    LoginAccount,
    /// One account from every network together.
    LoginAccountAllNetworks,
    /// One account from one of its known devices.
    LoginDevice,
    LoginIp,
    SignupIp,
    RefreshIp,
    /// Machine tokens for one OAuth client.
    TokenClient,
    TokenIp,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginAccount => "login_account",
            Self::LoginAccountAllNetworks => "login_account_all_networks",
            Self::LoginDevice => "login_device",
            Self::LoginIp => "login_ip",
            Self::SignupIp => "signup_ip",
            Self::RefreshIp => "refresh_ip",
            Self::TokenClient => "token_client",
            Self::TokenIp => "token_ip",
        }
    }
}

/// A refusal, or a block just imposed, and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub scope: Scope,
    pub retry_after_secs: u64,
}

/// A refusal, for the client: how long to wait. Logged, not audited.
impl From<Throttled> for ServiceError {
    fn from(t: Throttled) -> Self {
        tracing::info!(
            scope = t.scope.as_str(),
            retry_after_secs = t.retry_after_secs,
            "throttled: refused"
        );
        ServiceError::Throttled(t.retry_after_secs)
    }
}

impl ThrottlePolicy {
    /// Failures are forgotten after this long without another one; always
    /// longer than the longest delay, so backing off keeps growing.
    fn failure_memory(&self) -> TimeDelta {
        let twice_the_longest = self.backoff_max.checked_mul(2).unwrap_or(TimeDelta::MAX);
        TimeDelta::hours(1).max(twice_the_longest)
    }

    /// The delay after `failures` failures when `free` are allowed.
    pub fn backoff(&self, failures: i64, free: u32) -> Option<TimeDelta> {
        let beyond = failures.checked_sub(i64::from(free))?;
        if beyond < 0 {
            return None;
        }
        let factor = 2i32.checked_pow(beyond.min(30) as u32).unwrap_or(i32::MAX);
        Some(
            self.backoff_base
                .checked_mul(factor)
                .unwrap_or(self.backoff_max)
                .min(self.backoff_max),
        )
    }
}

/// The counters one sign-in attempt touches: the account from this
/// network and from everywhere, and this network over all accounts; or,
/// from a known device of the account, that device instead of the
/// account's counters, so failures others cause do not lock its owner out.
#[derive(Debug, Clone)]
pub struct LoginKeys {
    keys: Vec<(String, Scope)>,
}

impl LoginKeys {
    /// Keyed by the email as given (normalised when valid), whether or not
    /// an account has it, so unknown accounts behave exactly like real ones.
    pub fn new(email: &str, client: &ClientInfo, device: Option<&Device>) -> Self {
        let account = match Email::parse(email) {
            Ok(email) => email.as_str().to_owned(),
            Err(_) => email.trim().to_lowercase().chars().take(254).collect(),
        };
        let network = address_key(client);
        let ip = (format!("login:ip:{network}"), Scope::LoginIp);
        let keys = match device {
            Some(device) => vec![
                (
                    format!("login:device:{}", device.id.simple()),
                    Scope::LoginDevice,
                ),
                ip,
            ],
            None => vec![
                (
                    format!("login:account:{account}:net:{network}"),
                    Scope::LoginAccount,
                ),
                (
                    format!("login:account:{account}"),
                    Scope::LoginAccountAllNetworks,
                ),
                ip,
            ],
        };
        Self { keys }
    }

    fn keys(&self) -> Vec<&str> {
        self.keys.iter().map(|(key, _)| key.as_str()).collect()
    }
}

/// A sign-in attempt counted on its keys before the password is checked,
/// with the blocks counting it imposed.
#[derive(Debug)]
pub struct LoginClaim {
    keys: LoginKeys,
    imposed: Vec<Option<DateTime<Utc>>>,
    now: DateTime<Utc>,
}

/// The client's address as a counter key. IPv6 clients are counted per /64,
/// the block one subscriber usually holds.
pub(super) fn address_key(client: &ClientInfo) -> String {
    let Some(ip) = client.ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok()) else {
        return "unknown".into();
    };
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            format!("{}/64", std::net::Ipv6Addr::from(segments))
        }
    }
}

fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (until - now).num_milliseconds().max(0) as u64;
    millis.div_ceil(1000).max(1)
}

impl ThrottlePolicy {
    fn free_attempts(&self, scope: Scope) -> u32 {
        match scope {
            Scope::LoginAccount | Scope::LoginDevice => self.login_failures_per_account,
            Scope::LoginAccountAllNetworks => self.login_failures_per_account_all_networks,
            Scope::LoginIp => self.login_failures_per_ip,
            Scope::SignupIp => self.signup_per_ip.max,
            Scope::RefreshIp => self.refresh_per_ip.max,
            Scope::TokenClient => self.token_per_client.max,
            Scope::TokenIp => self.token_per_ip.max,
        }
    }
}

/// Counts a sign-in attempt before its password is checked, so that
/// parallel guesses (on several hashing slots or replicas) are counted
/// one after another: once a count reaches its limit, the block it imposes
/// refuses the attempts behind it. Refused while any key is blocked, and
/// then nothing is counted.
pub async fn claim_login(
    db: &Db,
    policy: &ThrottlePolicy,
    keys: LoginKeys,
    now: DateTime<Utc>,
) -> Result<Result<LoginClaim, Throttled>, sqlx::Error> {
    if !policy.enabled {
        return Ok(Ok(LoginClaim {
            keys: LoginKeys { keys: Vec::new() },
            imposed: Vec::new(),
            now,
        }));
    }
    let block = |i: usize, hits: i64| {
        let (_, scope) = keys.keys.get(i)?;
        policy
            .backoff(hits, policy.free_attempts(*scope))
            .map(|delay| now + delay)
    };
    let forget_before = now - policy.failure_memory();
    match rate_limits::claim(db, &keys.keys(), forget_before, now, &block).await? {
        Claim::Refused { key, until } => Ok(Err(Throttled {
            scope: keys
                .keys
                .get(key)
                .map_or(Scope::LoginIp, |(_, scope)| *scope),
            retry_after_secs: seconds_until(until, now),
        })),
        Claim::Counted(imposed) => Ok(Ok(LoginClaim { keys, imposed, now })),
    }
}

impl LoginClaim {
    /// The attempt failed: its counts stand; returns the blocks it imposed.
    pub fn failed(self) -> Vec<Throttled> {
        let now = self.now;
        self.keys
            .keys
            .iter()
            .zip(self.imposed)
            .filter_map(|((_, scope), until)| {
                until.map(|until| Throttled {
                    scope: *scope,
                    retry_after_secs: seconds_until(until, now),
                })
            })
            .collect()
    }

    /// The attempt succeeded: the account's (or device's) failures are
    /// wiped; the address's count takes the attempt back, as an attacker's
    /// own account must not reset what the address did. In `tx`, so it
    /// commits with what the success itself writes.
    pub async fn succeeded(self, tx: &mut WriteTx) -> Result<(), sqlx::Error> {
        let keys: Vec<_> = self
            .in_lock_order()
            .into_iter()
            .map(|(key, scope, imposed)| match scope {
                Scope::LoginIp => (key, Settle::Refund { imposed }),
                _ => (key, Settle::Clear),
            })
            .collect();
        rate_limits::settle(tx, &keys).await
    }

    /// The attempt was never made (no hashing slot): every count is taken
    /// back.
    pub async fn withdrawn(self, db: &Db) -> Result<(), sqlx::Error> {
        if self.keys.keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<_> = self
            .in_lock_order()
            .into_iter()
            .map(|(key, _, imposed)| (key, Settle::Refund { imposed }))
            .collect();
        let mut tx = db.write_tx_unflushed().await?;
        rate_limits::settle(&mut tx, &keys).await?;
        tx.commit().await
    }

    /// The keys with their scopes and blocks, sorted by key: the order
    /// `rate_limits::claim` locks them in. A transaction that took them in
    /// another order while claims wait on them would deadlock with those.
    fn in_lock_order(&self) -> Vec<(&str, Scope, Option<DateTime<Utc>>)> {
        let mut keys: Vec<_> = self
            .keys
            .keys
            .iter()
            .zip(&self.imposed)
            .map(|((key, scope), imposed)| (key.as_str(), *scope, *imposed))
            .collect();
        keys.sort_by_key(|(key, _, _)| *key);
        keys
    }
}

/// Counts a request against a per-address limit; refused once over it.
pub async fn rate_limit(
    db: &Db,
    policy: &ThrottlePolicy,
    scope: Scope,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<Option<Throttled>, sqlx::Error> {
    rate_limit_on(db, policy, scope, &address_key(client), now).await
}

/// Counts a request against the limit of `scope` for `subject` (an address,
/// or an OAuth client's id); refused once over it.
pub async fn rate_limit_on(
    db: &Db,
    policy: &ThrottlePolicy,
    scope: Scope,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Option<Throttled>, sqlx::Error> {
    let (limit, prefix) = match scope {
        Scope::SignupIp => (policy.signup_per_ip, "signup:ip:"),
        Scope::RefreshIp => (policy.refresh_per_ip, "refresh:ip:"),
        Scope::TokenClient => (policy.token_per_client, "token:client:"),
        Scope::TokenIp => (policy.token_per_ip, "token:ip:"),
        Scope::LoginAccount
        | Scope::LoginAccountAllNetworks
        | Scope::LoginDevice
        | Scope::LoginIp => return Ok(None),
    };
    if !policy.enabled {
        return Ok(None);
    }
    let key = format!("{prefix}{subject}");
    let window = limit.window;
    match rate_limits::hit(db, &key, i64::from(limit.max), now - window, now).await? {
        Hit::Counted(_) => Ok(None),
        Hit::Refused { window_started_at } => Ok(Some(Throttled {
            scope,
            retry_after_secs: seconds_until(window_started_at + window, now),
        })),
    }
}

impl Services<'_> {
    /// Counts this request against a per-address limit.
    pub(super) async fn rate_limit(&self, scope: Scope) -> Result<(), ServiceError> {
        match rate_limit(
            self.db,
            &self.policies.throttle,
            scope,
            self.client,
            self.now,
        )
        .await?
        {
            Some(refused) => {
                metrics::throttle_block(refused.scope.as_str());
                Err(refused.into())
            }
            None => Ok(()),
        }
    }

    /// Counts a token request against its client's limit and this address's.
    pub(super) async fn rate_limit_token(&self, client_id: &str) -> Result<(), ServiceError> {
        let policy = &self.policies.throttle;
        for (scope, subject) in [
            (Scope::TokenIp, address_key(self.client)),
            (Scope::TokenClient, client_id.to_owned()),
        ] {
            if let Some(refused) = rate_limit_on(self.db, policy, scope, &subject, self.now).await?
            {
                metrics::throttle_block(refused.scope.as_str());
                return Err(refused.into());
            }
        }
        Ok(())
    }

    /// Audits a block this request imposed: one event per block, however
    /// many requests it then refuses (those write nothing, so a flood of
    /// them cannot fill the audit log).
    pub(super) async fn blocked(&self, t: Throttled, user: Option<Uuid>) {
        metrics::throttle_block(t.scope.as_str());
        self.audit(
            EventType::Throttled,
            Outcome::Failure,
            user,
            json!({ "scope": t.scope.as_str(), "action": "blocked", "retry_after_secs": t.retry_after_secs }),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_the_threshold_doubles_and_is_capped() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.backoff(4, 5), None);
        assert_eq!(policy.backoff(5, 5), Some(TimeDelta::seconds(5)));
        assert_eq!(policy.backoff(6, 5), Some(TimeDelta::seconds(10)));
        assert_eq!(policy.backoff(9, 5), Some(TimeDelta::seconds(80)));
        assert_eq!(policy.backoff(13, 5), Some(TimeDelta::seconds(900)));
        assert_eq!(policy.backoff(i64::MAX, 5), Some(TimeDelta::seconds(900)));
        assert!(policy.failure_memory() > policy.backoff_max);
    }

    #[test]
    fn a_claim_is_settled_in_the_order_its_rows_were_locked() {
        let client = ClientInfo {
            ip: Some("203.0.113.7".into()),
            user_agent: None,
        };
        let keys = LoginKeys::new("ada@example.com", &client, None);
        let claim = LoginClaim {
            imposed: vec![None; keys.keys.len()],
            keys,
            now: DateTime::UNIX_EPOCH,
        };

        let order: Vec<&str> = claim.in_lock_order().iter().map(|(k, _, _)| *k).collect();

        // `rate_limits::claim` locks in this order; settling in any other
        // deadlocked with the claims waiting on the rows (PostgreSQL).
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted);
        assert_eq!(order.len(), 3);
    }

    #[test]
    fn addresses_are_keyed_per_host_or_per_ipv6_slash_64() {
        let key = |ip: &str| {
            address_key(&ClientInfo {
                ip: Some(ip.into()),
                user_agent: None,
            })
        };
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key(&ClientInfo::default()), "unknown");
    }

    #[test]
    fn account_keys_ignore_case_and_spacing_of_the_email() {
        let client = ClientInfo::default();
        let a = LoginKeys::new("Ann@Example.com", &client, None);
        let b = LoginKeys::new("  ann@example.com ", &client, None);
        assert_eq!(a.keys(), b.keys());
        let junk = LoginKeys::new(&"x".repeat(10_000), &client, None);
        assert!(junk.keys().iter().all(|key| key.len() < 300));
    }

    #[test]
    fn a_known_device_is_counted_instead_of_the_account() {
        let client = ClientInfo {
            ip: Some("2001:db8:1:2:3:4:5:6".into()),
            user_agent: None,
        };
        let keys = LoginKeys::new("ann@example.com", &client, None);
        assert_eq!(
            keys.keys(),
            [
                "login:account:ann@example.com:net:2001:db8:1:2::/64",
                "login:account:ann@example.com",
                "login:ip:2001:db8:1:2::/64",
            ]
        );
        let device = Device {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
        };
        let keys = LoginKeys::new("ann@example.com", &client, Some(&device));
        assert_eq!(
            keys.keys(),
            [
                "login:device:00000000000000000000000000000000",
                "login:ip:2001:db8:1:2::/64",
            ]
        );
    }
}
