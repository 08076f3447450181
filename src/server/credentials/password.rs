//! Argon2id hashing on blocking threads, behind a concurrency limit so a
//! sign-in flood queues briefly and is then refused instead of eating memory.
//!
//! Each hashing slot owns its Argon2 memory, allocated at its first hash
//! and reused for every later one: a hash touches no fresh pages, so it
//! costs only its own work, and the process holds at most one block per
//! slot however long a flood lasts. Blocks left unused for a while go back
//! to the OS ([`IdleMemory`]), so a server at rest stays small.

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    server::{
        domain::password_hash::StoredHash,
        platform::{
            env::{ConfigError, Env},
            telemetry::metrics::{self, HashRejection},
        },
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
    /// A slot's memory unused this long goes back to the OS.
    pub release_memory_after: Duration,
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
        let release_memory_after = env.timeout(
            "PORTCULLIS_HASH_MEMORY_RELEASE_SECS",
            Duration::from_secs(60),
            1..=86_400,
            Duration::from_secs(1),
        )?;
        Ok(Self {
            params,
            limits,
            release_memory_after,
        })
    }
}

/// The memory of one Argon2 hash, kept for the next. Reusing it is safe:
/// the first pass overwrites every block before any is read.
pub struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    pub fn new(params: HashingParams) -> Result<Self, HashError> {
        Ok(Self::with_blocks(argon2_params(params)?.block_count()))
    }

    fn with_blocks(count: usize) -> Self {
        Self {
            blocks: vec![Block::default(); count],
        }
    }

    /// Hashes `password` with a fresh salt into a PHC string.
    fn hash(&mut self, argon2: &Argon2<'_>, password: &[u8]) -> Result<StoredHash, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(internal)?;
        let output_len = argon2
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = self.compute(argon2, password, raw_salt, output_len)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon2.params()).map_err(internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(StoredHash(phc.to_string()))
    }

    /// Whether `password` is the one `stored` was made from, with the
    /// algorithm and parameters `stored` names; compared in constant time.
    /// A stored hash this code cannot use matches nothing (and is logged),
    /// so the answer is the same as for a wrong password.
    fn verify(&mut self, password: &[u8], stored: &PasswordHash<'_>) -> Result<bool, HashError> {
        let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
            return Ok(unusable("it lacks a salt or an output"));
        };
        let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else {
            return Ok(unusable("its algorithm is not Argon2"));
        };
        let Ok(version) = stored
            .version
            .map_or(Ok(Version::default()), Version::try_from)
        else {
            return Ok(unusable("its Argon2 version is unknown"));
        };
        let Ok(params) = Params::try_from(stored) else {
            return Ok(unusable("its parameters are out of range"));
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
            return Ok(unusable("its salt is not base64"));
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = self.compute(&argon2, password, raw_salt, expected.len())?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
    }

    fn compute(
        &mut self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        output_len: usize,
    ) -> Result<Output, HashError> {
        let needed = argon2.params().block_count();
        if self.blocks.len() < needed {
            // A hash stored with more memory than configured now: this
            // one verification pays for its own.
            let mut larger = Self::with_blocks(needed);
            return larger.compute(argon2, password, salt, output_len);
        }
        let output = Output::init_with(output_len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, self.blocks.as_mut_slice())
                .map_err(Into::into)
        })
        .map_err(internal);
        // After one pass, the memory a hash leaves behind lets a guess be
        // tested with a few BLAKE2b calls (a "garbage collector" attack);
        // later passes overwrite it with what only the whole hash yields.
        if argon2.params().t_cost() < 2 {
            self.blocks.fill(Block::default());
        }
        output
    }
}

/// Workspaces not in use, each with when it was last given back. There
/// are never more than hashing slots, as each is taken by a slot and given
/// back when it ends.
struct Workspaces {
    idle: Mutex<Vec<(Workspace, Instant)>>,
    blocks: usize,
}

impl Workspaces {
    fn take(&self) -> Workspace {
        // The one given back last: its pages are the likeliest resident.
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        // Allocated lazily: idle memory stays low until hashing begins.
        reused.map_or_else(|| Workspace::with_blocks(self.blocks), |(w, _)| w)
    }

    fn give_back(&self, workspace: Workspace) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((workspace, Instant::now()));
    }
}

/// The hasher's unused memory, to hand back to the OS once hashing has
/// been quiet for a while (a background job in `startup`).
#[derive(Clone)]
pub struct IdleMemory(Arc<Workspaces>);

impl IdleMemory {
    /// Frees every workspace unused since before `now - quiet`; returns
    /// how many. The next hash allocates afresh, once per slot.
    pub fn release(&self, now: Instant, quiet: Duration) -> usize {
        let released: Vec<Workspace> = {
            let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let (stale, fresh) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| now.saturating_duration_since(*since) >= quiet);
            *idle = fresh;
            stale.into_iter().map(|(w, _)| w).collect()
        };
        // Dropped outside the lock: unmapping 19 MiB is not free.
        released.len()
    }
}

/// The right to run one hash now, with the memory to run it in. Taking it
/// before a last check (such as throttling) means the check sees
/// everything decided while waiting.
pub struct HashSlot {
    workspace: Option<Workspace>,
    workspaces: Arc<Workspaces>,
    _permit: OwnedSemaphorePermit,
}

impl HashSlot {
    fn new(permit: OwnedSemaphorePermit, workspaces: &Arc<Workspaces>) -> Self {
        Self {
            workspace: None,
            workspaces: workspaces.clone(),
            _permit: permit,
        }
    }

    /// Taken on the blocking thread that hashes: a new workspace writes
    /// its 19 MiB, which must not stall the async workers.
    fn workspace(&mut self) -> &mut Workspace {
        let workspaces = &self.workspaces;
        self.workspace.get_or_insert_with(|| workspaces.take())
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        if let Some(workspace) = self.workspace.take() {
            self.workspaces.give_back(workspace);
        }
    }
}

pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: HashingParams,
    permits: Arc<Semaphore>,
    workspaces: Arc<Workspaces>,
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
        metrics::hash_slots(limits.concurrency.max(1));
        let mut workspace = Workspace::new(params)?;
        let dummy = workspace.hash(&argon2, b"portcullis-dummy-password")?;
        let workspaces = Workspaces {
            blocks: workspace.blocks.len(),
            idle: Mutex::new(vec![(workspace, Instant::now())]),
        };
        Ok(Self {
            argon2,
            params,
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            workspaces: Arc::new(workspaces),
            limits,
            waiting: Arc::new(AtomicUsize::new(0)),
            dummy,
            computed: HashCount::default(),
        })
    }

    /// The count of hashes computed so far, live.
    pub fn computed(&self) -> HashCount {
        self.computed.clone()
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// A handle on the memory no hash is using.
    pub fn idle_memory(&self) -> IdleMemory {
        IdleMemory(self.workspaces.clone())
    }

    pub async fn hash(&self, password: &Password) -> Result<StoredHash, HashError> {
        let slot = self.slot().await?;
        let argon2 = self.argon2.clone();
        let password = password.expose().as_bytes().to_vec();
        let computed = self.computed.clone();
        run_in(slot, move |workspace| {
            computed.add_one();
            workspace.hash(&argon2, &password)
        })
        .await
        .map(|(hash, _slot)| hash)
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
            metrics::hash_wait(Duration::ZERO);
            return Ok(HashSlot::new(permit, &self.workspaces));
        }
        let Ok(_place) = QueuePlace::take(&self.waiting, self.limits.queue_length) else {
            metrics::hash_rejected(HashRejection::QueueFull);
            return Err(HashError::Busy);
        };
        let started = Instant::now();
        let waited = tokio::time::timeout(
            self.limits.queue_timeout,
            self.permits.clone().acquire_owned(),
        )
        .await;
        let Ok(Ok(permit)) = waited else {
            metrics::hash_rejected(HashRejection::Timeout);
            return Err(HashError::Busy);
        };
        metrics::hash_wait(started.elapsed());
        Ok(HashSlot::new(permit, &self.workspaces))
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
        let params = self.params;
        let password = password.expose().as_bytes().to_vec();
        let computed = self.computed.clone();
        run_in(slot, move |workspace| {
            computed.add_one();
            let parsed = PasswordHash::new(&phc).map_err(internal)?;
            let matches = workspace.verify(&password, &parsed)? && real;
            Ok(Verified {
                matches,
                needs_rehash: matches && is_weaker(&parsed, params),
            })
        })
        .await
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

/// Runs `work` on a blocking thread in `slot`'s workspace and hands `slot`
/// back with its result. If the caller goes away meanwhile, the slot stays
/// taken until the work ends, so the limit holds even for abandoned
/// requests.
async fn run_in<T, F>(mut slot: HashSlot, work: F) -> Result<(T, HashSlot), HashError>
where
    T: Send + 'static,
    F: FnOnce(&mut Workspace) -> Result<T, HashError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || work(slot.workspace()).map(|result| (result, slot)))
        .await
        .map_err(|e| HashError::Internal(e.to_string()))?
}

fn argon2_params(params: HashingParams) -> Result<Params, HashError> {
    Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(internal)
}

fn argon2id(params: HashingParams) -> Result<Argon2<'static>, HashError> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        argon2_params(params)?,
    ))
}

/// Logs why a stored hash cannot be checked; it then matches nothing.
fn unusable(why: &str) -> bool {
    tracing::warn!(reason = why, "a stored password hash cannot be verified");
    false
}

fn internal(error: impl std::fmt::Display) -> HashError {
    HashError::Internal(error.to_string())
}

/// Hashes once, synchronously, with `params` in `workspace`, as a hashing
/// slot does; how long it takes is the sign-in ceiling (`portcullis
/// hash-timing`, `make bench`).
pub fn hash_once(params: HashingParams, workspace: &mut Workspace) -> Result<Duration, HashError> {
    let argon2 = argon2id(params)?;
    let started = std::time::Instant::now();
    workspace.hash(&argon2, b"portcullis-benchmark-password")?;
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
    async fn a_hash_made_with_more_memory_than_configured_still_verifies() {
        let stronger = HashingParams {
            memory_kib: 4096,
            ..fast()
        };
        let stored = PasswordHasher::new(stronger, limits(1))
            .unwrap()
            .hash(&pw("correct horse battery"))
            .await
            .unwrap();
        let hasher = PasswordHasher::new(fast(), limits(1)).unwrap();

        let right = hasher
            .verify(&pw("correct horse battery"), Some(&stored))
            .await
            .unwrap();
        let wrong = hasher
            .verify(&pw("correct horse batteries"), Some(&stored))
            .await
            .unwrap();

        assert!(right.matches && !right.needs_rehash);
        assert!(!wrong.matches);
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(fast(), limits(1)).unwrap();
        let argon2 = argon2id(fast()).unwrap();

        let ours = hasher.hash(&pw("correct horse battery")).await.unwrap();
        let parsed = PasswordHash::new(&ours.0).unwrap();
        assert!(argon2
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());

        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        let verified = hasher
            .verify(&pw("correct horse battery"), Some(&StoredHash(theirs)))
            .await
            .unwrap();
        assert!(verified.matches);
    }

    #[tokio::test]
    async fn a_stored_hash_that_cannot_be_used_matches_nothing() {
        let hasher = PasswordHasher::new(fast(), limits(1)).unwrap();
        let scrypt = StoredHash("$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into());

        let verified = hasher
            .verify(&pw("correct horse battery"), Some(&scrypt))
            .await
            .unwrap();

        assert!(!verified.matches);
    }

    fn idle_memory(hasher: &PasswordHasher) -> Vec<*const Block> {
        let idle = hasher.workspaces.idle.lock().unwrap();
        idle.iter().map(|(w, _)| w.blocks.as_ptr()).collect()
    }

    #[tokio::test]
    async fn hashes_reuse_one_memory_block_per_slot() {
        let hasher = Arc::new(PasswordHasher::new(fast(), limits(2)).unwrap());
        let first = idle_memory(&hasher);

        let mut running = Vec::new();
        for _ in 0..8 {
            let hasher = hasher.clone();
            running.push(tokio::spawn(async move {
                let stored = hasher.hash(&pw("correct horse battery")).await.unwrap();
                let verified = hasher
                    .verify(&pw("correct horse battery"), Some(&stored))
                    .await
                    .unwrap();
                assert!(verified.matches);
            }));
        }
        for run in running {
            run.await.unwrap();
        }

        let after = idle_memory(&hasher);
        assert!(after.len() <= 2, "{} blocks for 2 slots", after.len());
        assert!(first.iter().all(|block| after.contains(block)));
        assert_eq!(hasher.computed().get(), 16);
    }

    #[tokio::test]
    async fn memory_unused_for_a_while_is_released_and_made_again_when_needed() {
        let hasher = PasswordHasher::new(fast(), limits(2)).unwrap();
        let idle = hasher.idle_memory();
        let quiet = Duration::from_secs(60);

        assert_eq!(idle.release(Instant::now(), quiet), 0, "just used");
        assert_eq!(idle.release(Instant::now() + quiet, quiet), 1);
        assert!(idle_memory(&hasher).is_empty());

        let stored = hasher.hash(&pw("correct horse battery")).await.unwrap();
        assert!(
            hasher
                .verify(&pw("correct horse battery"), Some(&stored))
                .await
                .unwrap()
                .matches
        );
        assert_eq!(idle_memory(&hasher).len(), 1);
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
