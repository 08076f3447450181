//! Each replica's in-memory view of the sessions and users it has checked
//! lately, so checking a bearer's session needs no database read in the
//! steady state, yet a revocation or a change to a user reaches every
//! replica within a second.
//!
//! The view holds what a database read found (a live session, its user),
//! for at most an access token's lifetime. Triggers log every change that
//! could make such an entry wrong (`store::authz_changes`); the view follows
//! the log and drops what a change touches: at once when PostgreSQL
//! announces one (`LISTEN/NOTIFY`), before the next check when this process
//! wrote anything itself, and twice a second whatever happens. While it cannot
//! follow the log, it answers nothing and every check reads the database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use chrono::{DateTime, Utc};
use tokio::{sync::Notify, task::JoinHandle};
use uuid::Uuid;

use crate::server::{
    domain::machines::Standing,
    store::{
        authz_changes::{self, Announcements, Change},
        db::{writes_ended, Db},
        users::UserRecord,
    },
};

/// How often the log is read, announced or not: twice a second, so a
/// change no announcement reaches (made by another process on the SQLite
/// file, say) is seen within a second too.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);
/// A view that has not read the log for this long answers nothing.
const MAX_LAG: Duration = Duration::from_secs(2);
/// How far back each read looks again for changes committed late (their
/// numbers are taken before commit).
const LATE_COMMITS_MS: i64 = 30_000;
/// How often each replica deletes changes no view can need (every replica
/// may; the deletes are idempotent).
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// At most this many sessions are kept; past it the view starts afresh.
const CAPACITY: usize = 100_000;

/// A session found live, and its user (shared with the view, so a check
/// copies nothing; without grants unless the caller added the token's).
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session_expires_at: DateTime<Utc>,
    pub user: Arc<UserRecord>,
}

/// What a machine credential is remembered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StandingKey {
    /// An API key, by its SHA-256.
    KeyHash([u8; 32]),
    /// The key a machine token was made with.
    Key(Uuid),
    /// A service account or agent (a delegated token names one).
    Account(Uuid),
}

pub enum StandingLookup {
    Known(Arc<Standing>),
    /// Read the database; as with [`Lookup::Unknown`].
    Unknown(Option<u64>),
}

pub enum Lookup {
    Known(LiveSession),
    /// Read the database. With a generation, hand what it found to
    /// [`AuthzView::remember`] with it.
    Unknown(Option<u64>),
}

/// Cheap to clone; every clone is the same view.
#[derive(Clone)]
pub struct AuthzView {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// One read of the log at a time.
    reading: tokio::sync::Mutex<()>,
    /// Entries older than this are dropped: an access token's lifetime.
    keep_for: Duration,
}

#[derive(Default)]
struct State {
    /// When the last read of the log began; `None` before the first and
    /// after a failed one.
    synced_at: Option<Instant>,
    /// This process's write count when that read began.
    synced_writes: u64,
    /// The highest change number read; `None` until the first read.
    cursor: Option<i64>,
    /// Changes read lately (number → time), so a second look at them
    /// changes nothing.
    seen: HashMap<i64, i64>,
    /// Moves whenever a change is applied, so a database read that began
    /// before it is not remembered after it.
    generation: u64,
    sessions: HashMap<Uuid, (Uuid, DateTime<Utc>, Instant)>,
    users: HashMap<Uuid, (Arc<UserRecord>, Instant)>,
    standings: HashMap<StandingKey, (Arc<Standing>, Instant)>,
    /// When this replica last noted each key's use (by the app's clock).
    key_uses: HashMap<Uuid, DateTime<Utc>>,
    pruned_at: Option<Instant>,
}

impl AuthzView {
    pub fn new(keep_for: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                reading: tokio::sync::Mutex::new(()),
                keep_for,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; if something did, the maps are
        // still whole.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// What the view knows of `session_id` of `user_id`. When this process
    /// has written since the view last read the log, it reads it first.
    pub async fn lookup(&self, db: &Db, session_id: Uuid, user_id: Uuid) -> Lookup {
        if self.behind_own_writes() {
            // Boxed: the read is rare, and its future would otherwise
            // make every check's future (and allocation) larger.
            Box::pin(self.catch_up_with_own_writes(db)).await;
        }
        let now = Instant::now();
        let state = self.state();
        if !state.is_live(now) {
            return Lookup::Unknown(None);
        }
        let fresh = |at: Instant| now.duration_since(at) < self.inner.keep_for;
        let known = state
            .sessions
            .get(&session_id)
            .filter(|(owner, _, at)| *owner == user_id && fresh(*at))
            .zip(state.users.get(&user_id).filter(|(_, at)| fresh(*at)));
        match known {
            Some(((_, expires_at, _), (user, _))) => Lookup::Known(LiveSession {
                session_expires_at: *expires_at,
                user: Arc::clone(user),
            }),
            None => Lookup::Unknown(Some(state.generation)),
        }
    }

    /// Reads the log unless another check did since this process wrote.
    async fn catch_up_with_own_writes(&self, db: &Db) {
        let _turn = self.inner.reading.lock().await;
        if self.behind_own_writes() {
            // A failure leaves the view answering nothing.
            let _ = self.read_log(db).await;
        }
    }

    /// Keeps what a database read found, unless a change was applied since
    /// `generation` (the read may predate it) or the view stopped following.
    pub fn remember(
        &self,
        generation: u64,
        session_id: Uuid,
        session_expires_at: DateTime<Utc>,
        user: &Arc<UserRecord>,
    ) {
        let now = Instant::now();
        let mut state = self.state();
        if state.generation != generation || !state.is_live(now) {
            return;
        }
        if state.sessions.len() >= CAPACITY {
            state.sessions.clear();
            state.users.clear();
        }
        state
            .sessions
            .insert(session_id, (user.id, session_expires_at, now));
        state.users.insert(user.id, (Arc::clone(user), now));
    }

    /// What the view knows of a machine credential; like [`AuthzView::lookup`].
    pub async fn lookup_standing(&self, db: &Db, key: StandingKey) -> StandingLookup {
        if self.behind_own_writes() {
            Box::pin(self.catch_up_with_own_writes(db)).await;
        }
        let now = Instant::now();
        let state = self.state();
        if !state.is_live(now) {
            return StandingLookup::Unknown(None);
        }
        match state.standings.get(&key) {
            Some((standing, at)) if now.duration_since(*at) < self.inner.keep_for => {
                StandingLookup::Known(Arc::clone(standing))
            }
            _ => StandingLookup::Unknown(Some(state.generation)),
        }
    }

    /// Keeps what a database read found; like [`AuthzView::remember`].
    pub fn remember_standing(&self, generation: u64, key: StandingKey, standing: &Arc<Standing>) {
        let now = Instant::now();
        let mut state = self.state();
        if state.generation != generation || !state.is_live(now) {
            return;
        }
        if state.standings.len() >= CAPACITY {
            state.standings.clear();
        }
        state.standings.insert(key, (Arc::clone(standing), now));
    }

    /// Whether to note a use of `key_id` now: true at most once a minute
    /// per key, so a busy key costs one write a minute, not one a request.
    pub fn claim_key_use_note(&self, key_id: Uuid, now: DateTime<Utc>) -> bool {
        let mut state = self.state();
        if let Some(noted) = state.key_uses.get(&key_id) {
            if now - *noted < chrono::TimeDelta::minutes(1) {
                return false;
            }
        }
        if state.key_uses.len() >= CAPACITY {
            state.key_uses.clear();
        }
        state.key_uses.insert(key_id, now);
        true
    }

    /// Reads the log and applies what is new.
    pub async fn catch_up(&self, db: &Db) -> Result<(), sqlx::Error> {
        let _turn = self.inner.reading.lock().await;
        self.read_log(db).await
    }

    fn behind_own_writes(&self) -> bool {
        writes_ended() != self.state().synced_writes
    }

    /// Only with `reading` held.
    async fn read_log(&self, db: &Db) -> Result<(), sqlx::Error> {
        let writes = writes_ended();
        let began = Instant::now();
        let late_from = unix_ms() - LATE_COMMITS_MS;
        let cursor = self.state().cursor;
        let read = match cursor {
            // Nothing is remembered yet, so nothing before now matters.
            None => authz_changes::latest_seq(db)
                .await
                .map(|seq| (seq, Vec::new())),
            Some(after) => authz_changes::since(db, after, late_from)
                .await
                .map(|changes| (after, changes)),
        };
        let mut state = self.state();
        match read {
            Ok((cursor, changes)) => {
                state.apply(cursor, changes, late_from);
                state.synced_at = Some(began);
                state.synced_writes = writes;
                state.prune(began, self.inner.keep_for);
                Ok(())
            }
            Err(err) => {
                // Changes may be missed from here on: forget everything.
                state.synced_at = None;
                state.sessions.clear();
                state.users.clear();
                state.standings.clear();
                state.generation += 1;
                Err(err)
            }
        }
    }

    /// Follows the log until the handle is dropped: on every announcement
    /// from `announcements` (PostgreSQL) and every second.
    pub fn follow(&self, db: Db, announcements: Option<Announcements>) -> Follower {
        let nudge = Arc::new(Notify::new());
        let listener = announcements.map(|mut announcements| {
            let nudge = nudge.clone();
            tokio::spawn(async move {
                loop {
                    match announcements.next().await {
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, "authorization announcements lost");
                            tokio::time::sleep(FOLLOW_EVERY).await;
                        }
                    }
                    // A lost connection may have lost announcements too.
                    nudge.notify_one();
                }
            })
        });
        let view = self.clone();
        let reader = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FOLLOW_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut purged_at = Instant::now();
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = nudge.notified() => {}
                }
                // Said once per outage, not twice a second.
                match view.catch_up(&db).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("reading the authorization changes again");
                    }
                    Ok(()) => {}
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "could not read the authorization changes; checks read the database");
                    }
                    Err(_) => {}
                }
                if purged_at.elapsed() >= PURGE_EVERY {
                    purged_at = Instant::now();
                    let before = unix_ms() - view.look_back_ms();
                    if let Err(error) = authz_changes::purge_before(&db, before).await {
                        tracing::warn!(%error, "could not purge the authorization changes");
                    }
                }
            }
        });
        Follower {
            tasks: [Some(reader), listener].into_iter().flatten().collect(),
        }
    }
}

impl State {
    fn is_live(&self, now: Instant) -> bool {
        self.synced_at
            .is_some_and(|at| now.duration_since(at) < MAX_LAG)
    }

    fn apply(&mut self, cursor: i64, changes: Vec<Change>, late_from: i64) {
        let mut cursor = cursor;
        for change in changes {
            cursor = cursor.max(change.seq);
            if self.seen.insert(change.seq, change.at_ms).is_some() {
                continue;
            }
            if let Some(session_id) = change.session_id {
                self.sessions.remove(&session_id);
            }
            self.users.remove(&change.user_id);
            self.standings
                .retain(|_, (standing, _)| !standing.touched_by(change.user_id, change.session_id));
            self.generation += 1;
        }
        self.cursor = Some(cursor);
        // Kept a little past the window reads look back over.
        self.seen.retain(|_, at| *at > late_from - LATE_COMMITS_MS);
    }

    /// Drops entries past their time, at most every few seconds.
    fn prune(&mut self, now: Instant, keep_for: Duration) {
        if self
            .pruned_at
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(10))
        {
            return;
        }
        self.pruned_at = Some(now);
        let fresh = |at: &Instant| now.duration_since(*at) < keep_for;
        self.sessions.retain(|_, (_, _, at)| fresh(at));
        self.users.retain(|_, (_, at)| fresh(at));
        self.standings.retain(|_, (_, at)| fresh(at));
    }
}

/// The tasks that follow the log; they stop when this is dropped.
pub struct Follower {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl AuthzView {
    /// How far back any view may still read the log.
    fn look_back_ms(&self) -> i64 {
        let keep_ms = i64::try_from(self.inner.keep_for.as_millis()).unwrap_or(i64::MAX / 4);
        keep_ms.max(LATE_COMMITS_MS) + 60_000
    }
}

/// The wall clock, not the application's: the log's times are the
/// database's, and a test's manual clock must not move the look-back.
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64, at_ms: i64, session_id: Option<Uuid>) -> Change {
        Change {
            seq,
            at_ms,
            user_id: Uuid::nil(),
            session_id,
        }
    }

    #[test]
    fn a_change_read_twice_is_applied_once_and_a_late_commit_still_counts() {
        let mut state = State::default();
        let session = Uuid::new_v4();
        let now = Instant::now();
        state
            .sessions
            .insert(session, (Uuid::nil(), DateTime::<Utc>::MIN_UTC, now));
        state.apply(10, vec![change(11, 5_000, Some(session))], 0);
        assert!(state.sessions.is_empty());
        assert_eq!((state.generation, state.cursor), (1, Some(11)));

        // Read again (it is inside the look-back window): nothing moves.
        state.apply(11, vec![change(11, 5_000, Some(session))], 0);
        assert_eq!(state.generation, 1);

        // Numbered lower than the cursor but committed later: applied.
        state.apply(11, vec![change(9, 5_100, None)], 0);
        assert_eq!((state.generation, state.cursor), (2, Some(11)));
    }

    #[test]
    fn a_change_to_a_key_its_account_or_its_owner_drops_what_stands_on_them() {
        use crate::server::domain::machines::{AccountKind, MachinePrincipal};
        let (key, account, owner, stranger) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let standing = Arc::new(Standing {
            principal: MachinePrincipal::Account {
                id: account,
                kind: AccountKind::Agent,
                owner_id: owner,
            },
            key: None,
            permissions: Vec::new(),
            depends_on: vec![key, account, owner],
        });
        let now = Instant::now();
        let mut seq = 0;
        let mut after = |user_id: Uuid, session_id: Option<Uuid>| {
            let mut state = State::default();
            state
                .standings
                .insert(StandingKey::KeyHash([7; 32]), (standing.clone(), now));
            seq += 1;
            state.apply(
                0,
                vec![Change {
                    seq,
                    at_ms: seq,
                    user_id,
                    session_id,
                }],
                0,
            );
            state.standings.len()
        };
        // The key revoked (its principal as the user, the key as the session).
        assert_eq!(after(account, Some(key)), 0);
        // The account changed, or its owner.
        assert_eq!(after(account, None), 0);
        assert_eq!(after(owner, None), 0);
        // Someone else's session or user: kept.
        assert_eq!(after(stranger, Some(Uuid::new_v4())), 1);
    }

    #[test]
    fn a_view_that_has_not_read_the_log_lately_is_not_live() {
        let now = Instant::now();
        let mut state = State::default();
        assert!(!state.is_live(now));
        state.synced_at = Some(now);
        assert!(state.is_live(now + MAX_LAG / 2));
        assert!(!state.is_live(now + MAX_LAG));
    }
}
