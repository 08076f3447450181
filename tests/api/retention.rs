//! Old rows go: ended sessions with their tokens, audit events
//! past retention, in batches, safely on several replicas at once.

use std::time::Duration;

use chrono::TimeDelta;
use portcullis::server::{
    platform::clock::Clock,
    services::{
        retention::{self, RetentionPolicy},
        sessions::SessionPolicy,
    },
};
use serde_json::Value;

use crate::helpers::{spawn_app_with, Backend};
use crate::on_both_backends;

on_both_backends!(ended_sessions_and_old_events_are_purged);

async fn ended_sessions_and_old_events_are_purged(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_THROTTLE", "off")]).await;
    let revoked = app.bearer_session().await;
    let logout = app
        .with_bearer(reqwest::Method::POST, "/api/auth/logout", &revoked.access)
        .await;
    assert_eq!(logout.status(), 204);
    let _idle = app.bearer_session().await;
    app.clock.advance(Duration::from_secs(4 * 24 * 3600));
    let live = app.bearer_session().await;
    let rotated = app.bearer_refresh(&live.refresh).await;
    assert_eq!(rotated.status(), 200);
    let current = rotated.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::from_secs(10));
    let count = |sql: &'static str| app.sql.scalar::<i64>(sql, &[]);
    let events_before = count("SELECT COUNT(*) FROM audit_events").await;

    let policy = RetentionPolicy {
        audit_retention: TimeDelta::days(3),
    };
    let now = app.clock.now();
    let sessions = SessionPolicy::default();
    // Two replicas purging at the same moment.
    let (first, second) = tokio::join!(
        retention::purge(&app.db, &sessions, &policy, now),
        retention::purge(&app.db, &sessions, &policy, now),
    );
    let (first, second) = (first.unwrap(), second.unwrap());

    // Each user also has the session its sign-up started: the revoked
    // user's and the idle user's have gone idle.
    assert_eq!(first.sessions + second.sessions, 4, "revoked and idle");
    assert_eq!(count("SELECT COUNT(*) FROM sessions").await, 2);
    assert_eq!(count("SELECT COUNT(*) FROM refresh_tokens").await, 3);
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL AND seal IS NOT NULL"
        )
        .await,
        0,
        "a spent token keeps no seal"
    );
    let events_after = count("SELECT COUNT(*) FROM audit_events").await;
    assert!(events_after > 0, "recent events stay");
    assert_eq!(
        events_before - events_after,
        i64::try_from(first.audit_events + second.audit_events).unwrap()
    );
    assert!(
        first.audit_events + second.audit_events >= 3,
        "the old sign-ups and sign-out"
    );
    // The live session goes on.
    assert_eq!(app.bearer_refresh(&current).await.status(), 200);
}
