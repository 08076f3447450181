//! Argon2id hashing on blocking threads, behind a concurrency limit so a
//! sign-in flood queues briefly and is then refused instead of eating memory.

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    server::{
        domain::password_hash::StoredHash,
        platform::env::{ConfigError, Env},
    },
    validate::Password,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing is saturated")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash used weaker parameters than configured now.
    pub needs_rehash: bool,
}

/// How many hashes run at once, how many requests may wait for one, and
/// for how long. A full queue answers Busy at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    pub concurrency: usize,
    pub queue_length: usize,
    pub queue_timeout: Duration,
}

/// How passwords are hashed, and how much hashing runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingConfig {
    pub params: HashingParams,
    pub limits: HashLimits,
}

impl HashingConfig {
    /// Defaults: OWASP's Argon2id recommendation (19 MiB, 2 passes, 1
    /// lane), one hash per core, 16 waiting per slot for up to 2 s.
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let params = HashingParams {
            memory_kib: env.number("PORTCULLIS_ARGON2_MEMORY_KIB", 19_456, 8..=4 * 1024 * 1024)?,
            iterations: env.number("PORTCULLIS_ARGON2_ITERATIONS", 2, 1..=100)?,
            parallelism: env.number("PORTCULLIS_ARGON2_PARALLELISM", 1, 1..=64)?,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let concurrency = env.number("PORTCULLIS_HASH_CONCURRENCY", cores, 1..=1024)?;
        let limits = HashLimits {
            concurrency,
            queue_length: env.number(
                "PORTCULLIS_HASH_QUEUE_LENGTH",
                16 * concurrency,
                1..=1_000_000,
            )?,
            queue_timeout: env.timeout(
                "PORTCULLIS_HASH_QUEUE_TIMEOUT_MS",
                Duration::from_secs(2),
                1..=60_000,
                Duration::from_millis(1),
            )?,
        };
        Ok(Self { params, limits })
    }
}

/// The right to run one hash now. Taking it before a last check (such as
/// throttling) means the check sees everything decided while waiting.
pub struct HashSlot {
    _permit: OwnedSemaphorePermit,
}

pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: HashingParams,
    permits: Arc<Semaphore>,
    limits: HashLimits,
    waiting: Arc<AtomicUsize>,
    /// Verified against when the account does not exist, so the answer
    /// takes as long as for a real account.
    dummy: StoredHash,
    computed: HashCount,
}

/// How many hashes (and verifications) a hasher has computed: how much of
/// its costly work requests caused. Clones count together.
#[derive(Debug, Clone, Default)]
pub struct HashCount(Arc<AtomicU64>);

impl HashCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl PasswordHasher {
    pub fn new(params: HashingParams, limits: HashLimits) -> Result<Self, HashError> {
        let argon2 = argon2id(params)?;
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2
            .hash_password(b"portcullis-dummy-password", &salt)
            .map_err(|e| HashError::Internal(e.to_string()))?
            .to_string();
        Ok(Self {
            argon2,
            params,
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            limits,
            waiting: Arc::new(AtomicUsize::new(0)),
            dummy: StoredHash(dummy),
            computed: HashCount::default(),
        })
    }

    /// The count of hashes computed so far, live.
    pub fn computed(&self) -> HashCount {
        self.computed.clone()
    }

    pub async fn hash(&self, password: &Password) -> Result<StoredHash, HashError> {
        let argon2 = self.argon2.clone();
        let password = password.expose().as_bytes().to_vec();
        let computed = self.computed.clone();
        self.run_limited(move || {
            computed.add_one();
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(&password, &salt)
                .map(|h| StoredHash(h.to_string()))
                .map_err(|e| HashError::Internal(e.to_string()))
        })
        .await
    }

    /// Checks `password` against `stored`, or against the dummy hash when
    /// there is no stored hash; then `matches` is always false.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&StoredHash>,
    ) -> Result<Verified, HashError> {
        let slot = self.slot().await?;
        self.verify_in(slot, password, stored)
            .await
            .map(|(verified, _slot)| verified)
    }

    /// Waits for a hashing slot, up to the queue timeout; with the queue
    /// full, does not wait at all.
    pub async fn slot(&self) -> Result<HashSlot, HashError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(HashSlot { _permit: permit });
        }
        let _place = QueuePlace::take(&self.waiting, self.limits.queue_length)?;
        tokio::time::timeout(
            self.limits.queue_timeout,
            self.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| HashError::Busy)?
        .map(|permit| HashSlot { _permit: permit })
        .map_err(|_| HashError::Busy)
    }

    /// Like [`PasswordHasher::verify`], in a slot already taken, which is
    /// handed back so the caller can record the outcome before releasing it.
    pub async fn verify_in(
        &self,
        slot: HashSlot,
        password: &Password,
        stored: Option<&StoredHash>,
    ) -> Result<(Verified, HashSlot), HashError> {
        let real = stored.is_some();
        let phc = stored.unwrap_or(&self.dummy).0.clone();
        let argon2 = self.argon2.clone();
        let params = self.params;
        let password = password.expose().as_bytes().to_vec();
        let computed = self.computed.clone();
        run_in(slot, move || {
            computed.add_one();
            let parsed = PasswordHash::new(&phc).map_err(|e| HashError::Internal(e.to_string()))?;
            let matches = argon2.verify_password(&password, &parsed).is_ok();
            Ok(Verified {
                matches: matches && real,
                needs_rehash: matches && real && is_weaker(&parsed, params),
            })
        })
        .await
    }

    async fn run_limited<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let slot = self.slot().await?;
        run_in(slot, work).await.map(|(result, _slot)| result)
    }
}

/// A place in the queue for a hashing slot, given back when dropped (also
/// when the waiting request is abandoned).
struct QueuePlace<'a>(&'a AtomicUsize);

impl<'a> QueuePlace<'a> {
    fn take(waiting: &'a AtomicUsize, queue_length: usize) -> Result<Self, HashError> {
        if waiting.fetch_add(1, Ordering::AcqRel) >= queue_length {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        Ok(Self(waiting))
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `work` on a blocking thread and hands `slot` back with its result.
/// If the caller goes away meanwhile, the slot stays taken until the work
/// ends, so the limit holds even for abandoned requests.
async fn run_in<T, F>(slot: HashSlot, work: F) -> Result<(T, HashSlot), HashError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, HashError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || work().map(|result| (result, slot)))
        .await
        .map_err(|e| HashError::Internal(e.to_string()))?
}

fn argon2id(params: HashingParams) -> Result<Argon2<'static>, HashError> {
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| HashError::Internal(e.to_string()))?;
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        argon_params,
    ))
}

/// Hashes once, synchronously, with `params`; how long one hash takes is
/// the sign-in ceiling (`portcullis hash-timing`, `make bench`).
pub fn hash_once(params: HashingParams) -> Result<Duration, HashError> {
    let argon2 = argon2id(params)?;
    let salt = SaltString::generate(&mut OsRng);
    let started = std::time::Instant::now();
    argon2
        .hash_password(b"portcullis-benchmark-password", &salt)
        .map_err(|e| HashError::Internal(e.to_string()))?;
    Ok(started.elapsed())
}

fn is_weaker(hash: &PasswordHash<'_>, wanted: HashingParams) -> bool {
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => {
            p.m_cost() < wanted.memory_kib
                || p.t_cost() < wanted.iterations
                || p.p_cost() < wanted.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(concurrency: usize) -> HashLimits {
        HashLimits {
            concurrency,
            queue_length: 8,
            queue_timeout: Duration::from_secs(5),
        }
    }

    fn fast() -> HashingParams {
        HashingParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn pw(s: &str) -> Password {
        Password::parse_any(s).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let hasher = PasswordHasher::new(fast(), limits(2)).unwrap();
        let stored = hasher.hash(&pw("correct horse battery")).await.unwrap();
        assert!(stored.0.starts_with("$argon2id$"));

        let right = hasher
            .verify(&pw("correct horse battery"), Some(&stored))
            .await
            .unwrap();
        let wrong = hasher
            .verify(&pw("correct horse battery!"), Some(&stored))
            .await
            .unwrap();
        let missing = hasher
            .verify(&pw("correct horse battery"), None)
            .await
            .unwrap();
        assert!(right.matches && !right.needs_rehash);
        assert!(!wrong.matches);
        assert!(!missing.matches);
    }

    #[tokio::test]
    async fn raising_the_parameters_asks_for_a_rehash() {
        let old = PasswordHasher::new(fast(), limits(1)).unwrap();
        let stored = old.hash(&pw("correct horse battery")).await.unwrap();
        let stronger = HashingParams {
            memory_kib: 2048,
            ..fast()
        };
        let new = PasswordHasher::new(stronger, limits(1)).unwrap();

        let verified = new
            .verify(&pw("correct horse battery"), Some(&stored))
            .await
            .unwrap();

        assert!(verified.matches && verified.needs_rehash);
    }

    #[tokio::test]
    async fn a_wait_past_the_queue_timeout_is_refused_as_busy() {
        let hasher = PasswordHasher::new(
            fast(),
            HashLimits {
                queue_timeout: Duration::from_millis(1),
                ..limits(1)
            },
        )
        .unwrap();
        let held = hasher.permits.clone().acquire_owned().await.unwrap();

        let result = hasher.hash(&pw("correct horse battery")).await;

        assert!(matches!(result, Err(HashError::Busy)));
        drop(held);
        assert!(hasher.hash(&pw("correct horse battery")).await.is_ok());
    }

    #[tokio::test]
    async fn with_the_queue_full_a_request_is_refused_at_once() {
        let hasher = Arc::new(
            PasswordHasher::new(
                fast(),
                HashLimits {
                    queue_length: 1,
                    queue_timeout: Duration::from_secs(3600),
                    ..limits(1)
                },
            )
            .unwrap(),
        );
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        // One request takes the only place in the queue...
        let queued = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash(&pw("correct horse battery")).await.is_ok() }
        });
        while hasher.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        // ...so the next is turned away without waiting the hour.
        let refused = hasher.hash(&pw("correct horse battery")).await;
        assert!(matches!(refused, Err(HashError::Busy)));

        drop(held);
        assert!(queued.await.unwrap());
        assert_eq!(hasher.waiting.load(Ordering::Acquire), 0);
    }
}
