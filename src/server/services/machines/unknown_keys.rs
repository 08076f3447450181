//! Unknown API keys per client address, counted in this replica's memory.
//!
//! A key the view does not remember costs a database read, and a key's
//! checksum is public, so anyone can make well-formed keys by the million.
//! Past the limit, an address's unknown keys are refused without the read
//! until its window ends. Keys the view remembers still pass: only the
//! read is withheld. The count is per replica because it bounds this
//! replica's reads, not anyone's guesses (32 random bytes are not guessed).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use chrono::{DateTime, Utc};

use crate::server::services::throttle::RateLimit;

/// Addresses remembered at most; past it, ended windows are dropped, and
/// if none has ended every count starts over (the bound is on memory).
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct UnknownKeys {
    /// Per address: when its window began, and its unknown keys since.
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

impl UnknownKeys {
    /// Whether a key from `address` may be looked up now.
    pub fn allows(&self, address: &str, limit: RateLimit, now: DateTime<Utc>) -> bool {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        match windows.get(address) {
            Some(&(began, count)) => now - began >= limit.window || count < limit.max,
            None => true,
        }
    }

    /// Counts a key from `address` that no key matched.
    pub fn note(&self, address: &str, limit: RateLimit, now: DateTime<Utc>) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((began, count)) = windows.get_mut(address) {
            if now - *began < limit.window {
                *count = count.saturating_add(1);
            } else {
                *began = now;
                *count = 1;
            }
            return;
        }
        if windows.len() >= CAPACITY {
            windows.retain(|_, (began, _)| now - *began < limit.window);
            if windows.len() >= CAPACITY {
                windows.clear();
            }
        }
        windows.insert(address.to_owned(), (now, 1));
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn limit() -> RateLimit {
        RateLimit {
            max: 3,
            window: TimeDelta::minutes(1),
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_address_is_refused_lookups_past_the_limit_until_its_window_ends() {
        let unknown = UnknownKeys::default();
        for second in 0..3 {
            assert!(unknown.allows("192.0.2.1", limit(), at(second)));
            unknown.note("192.0.2.1", limit(), at(second));
        }
        assert!(!unknown.allows("192.0.2.1", limit(), at(3)));
        assert!(!unknown.allows("192.0.2.1", limit(), at(59)));
        assert!(
            unknown.allows("192.0.2.2", limit(), at(3)),
            "another address"
        );
        assert!(unknown.allows("192.0.2.1", limit(), at(60)));

        // A new window starts with the next unknown key.
        unknown.note("192.0.2.1", limit(), at(60));
        assert!(unknown.allows("192.0.2.1", limit(), at(61)));
    }

    #[test]
    fn memory_stays_bounded_however_many_addresses_come() {
        let unknown = UnknownKeys::default();
        for n in 0..CAPACITY + 5 {
            unknown.note(&format!("a{n}"), limit(), at(0));
        }
        let held = unknown.windows.lock().unwrap().len();
        assert!(held <= CAPACITY, "{held} addresses held");

        // Ended windows go first; current ones are kept when room is made.
        let unknown = UnknownKeys::default();
        for n in 0..CAPACITY - 1 {
            unknown.note(&format!("old{n}"), limit(), at(0));
        }
        for _ in 0..3 {
            unknown.note("current", limit(), at(100));
        }
        unknown.note("newcomer", limit(), at(101));
        assert!(!unknown.allows("current", limit(), at(101)));
        assert_eq!(unknown.windows.lock().unwrap().len(), 2);
    }
}
