//! What forward-auth adds to a 200 for a signed-in caller (the identity
//! headers and the assertion), kept per session and host while the
//! assertion has at least half its life left. Every request a gateway
//! holds asks again, and encoding the headers and signing the assertion
//! would cost more than the rest of the decision; the decision itself
//! (session live, rules met) is still made every time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use axum::http::{HeaderName, HeaderValue};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

/// The headers, shared by every answer that reuses them.
pub type PassHeaders = Arc<[(HeaderName, HeaderValue)]>;

/// A pass is handed out again while its assertion has this much left.
const REUSE_WHILE: TimeDelta = TimeDelta::seconds(30);
/// Passes kept at most; past it the expired go, then all.
const CAPACITY: usize = 50_000;

/// What a pass says, so one made before a change is not reused after it.
/// Roles and attributes move the user's authorization version; the email
/// does not, so it is compared itself.
#[derive(Clone, Copy)]
pub struct Holder<'a> {
    pub session_id: Uuid,
    pub authz_version: i64,
    pub email: &'a str,
}

struct Kept {
    host: Box<str>,
    authz_version: i64,
    email: Box<str>,
    expires_at: DateTime<Utc>,
    headers: PassHeaders,
}

#[derive(Default)]
pub struct GatePasses {
    /// By session, then host (a session passes to a handful of hosts).
    kept: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_session: HashMap<Uuid, Vec<Kept>>,
    count: usize,
}

impl GatePasses {
    /// The headers for `holder` passing to `host`: kept ones while current,
    /// else `make`'s (with the assertion's expiry), kept for next time.
    pub fn get_or_make<E>(
        &self,
        holder: Holder<'_>,
        host: &str,
        now: DateTime<Utc>,
        make: impl FnOnce() -> Result<(PassHeaders, DateTime<Utc>), E>,
    ) -> Result<PassHeaders, E> {
        let current = |kept: &Kept| {
            kept.host.as_ref() == host
                && kept.authz_version == holder.authz_version
                && kept.email.as_ref() == holder.email
                && kept.expires_at - now >= REUSE_WHILE
        };
        if let Some(kept) = self
            .lock()
            .by_session
            .get(&holder.session_id)
            .and_then(|passes| passes.iter().find(|kept| current(kept)))
        {
            return Ok(kept.headers.clone());
        }
        let (headers, expires_at) = make()?;
        let mut inner = self.lock();
        if inner.count >= CAPACITY {
            inner.keep_only_reusable(now);
        }
        let passes = inner.by_session.entry(holder.session_id).or_default();
        let before = passes.len();
        passes.retain(|kept| kept.host.as_ref() != host);
        passes.push(Kept {
            host: host.into(),
            authz_version: holder.authz_version,
            email: holder.email.into(),
            expires_at,
            headers: headers.clone(),
        });
        let after = passes.len();
        inner.count = inner.count.saturating_sub(before) + after;
        Ok(headers)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; if something did, the map is whole.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn keep_only_reusable(&mut self, now: DateTime<Utc>) {
        self.by_session.retain(|_, passes| {
            passes.retain(|kept| kept.expires_at - now >= REUSE_WHILE);
            !passes.is_empty()
        });
        self.count = self.by_session.values().map(Vec::len).sum();
        if self.count >= CAPACITY {
            self.by_session.clear();
            self.count = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(token: &'static str) -> PassHeaders {
        Arc::from([(
            HeaderName::from_static("x-portcullis-assertion"),
            HeaderValue::from_static(token),
        )])
    }

    fn someone() -> Holder<'static> {
        Holder {
            session_id: Uuid::new_v4(),
            authz_version: 1,
            email: "a@example.com",
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_pass_is_reused_while_current_and_half_alive() {
        let passes = GatePasses::default();
        let holder = someone();
        let made = |token| move || Ok::<_, ()>((pass(token), at(60)));
        let first = passes.get_or_make(holder, "app.example.com", at(0), made("one"));
        let again = passes.get_or_make(holder, "app.example.com", at(30), made("two"));
        assert!(Arc::ptr_eq(&first.unwrap(), &again.unwrap()));
        // Another host, version, email, or less than half its life left.
        let other_host = passes.get_or_make(holder, "b.example.com", at(1), made("three"));
        assert_eq!(other_host.unwrap()[0].1, "three");
        let newer = Holder {
            authz_version: 2,
            ..holder
        };
        let renamed = Holder {
            email: "b@example.com",
            ..holder
        };
        for (who, when) in [(newer, 1), (renamed, 1), (holder, 31)] {
            let made_again = passes.get_or_make(who, "app.example.com", at(when), made("new"));
            assert_eq!(made_again.unwrap()[0].1, "new");
        }
        // Replaced, not added: one pass per session and host.
        assert_eq!(passes.lock().count, 2);
    }

    #[test]
    fn a_failure_to_make_one_keeps_nothing() {
        let passes = GatePasses::default();
        let holder = someone();
        let failed = passes.get_or_make(holder, "app.example.com", at(0), || Err("no key"));
        assert_eq!(failed.unwrap_err(), "no key");
        assert_eq!(passes.lock().count, 0);
    }
}
