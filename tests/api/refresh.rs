//! Refresh-token rotation: reuse detection, races, expiry.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    cookie_value, set_cookie, spawn_app, spawn_app_with, Backend, TestApp, ACCESS, GOOD_PASSWORD,
    REFRESH,
};
use crate::on_both_backends;

on_both_backends!(
    refresh_rotates_the_token,
    replay_after_the_grace_window_revokes_the_session,
    two_tabs_refreshing_at_once_stay_signed_in,
    a_refresh_abandoned_by_its_client_leaves_the_database_working,
    refresh_without_a_valid_token_is_401_and_clears_cookies,
    sessions_end_when_the_family_expires,
);

async fn refresh_rotates_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.signup_for_refresh_token(&app.client).await;

    let response = app.refresh(&app.client).await;

    assert_eq!(response.status(), 200);
    let second = cookie_value(&set_cookie(&response, REFRESH).unwrap());
    assert_ne!(first, second);
    assert!(set_cookie(&response, ACCESS).is_some());
    let body: Value = response.json().await.unwrap();
    assert!(body["session"]["access_expires_at"].is_string());
    // Stored only as a hash, linked to its parent.
    let rows: Vec<(Vec<u8>, Option<uuid::Uuid>)> = app
        .sql
        .rows(
            "SELECT token_hash, successor_id FROM refresh_tokens \
             ORDER BY issued_at, parent_id IS NOT NULL",
        )
        .await;
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|(hash, _)| hash.len() == 32 && *hash != first.as_bytes()));
    assert!(rows[0].1.is_some());
    assert_eq!(app.me(&app.client).await.status(), 200);
}

async fn replay_after_the_grace_window_revokes_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let stolen = app.signup_for_refresh_token(&app.client).await;
    let rotated = app.refresh(&app.client).await;
    assert_eq!(rotated.status(), 200);
    app.clock.advance(Duration::from_secs(11));

    let replay = app
        .post_json(
            &app.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": stolen }),
        )
        .await;

    assert_eq!(replay.status(), 401);
    // The whole family is gone: the legitimate holder is signed out too.
    assert_eq!(app.refresh(&app.client).await.status(), 401);
    let reuse_events: i64 = app
        .sql
        .scalar(
            "SELECT COUNT(*) FROM audit_events WHERE event_type = 'refresh_reuse_detected'",
            &[],
        )
        .await;
    assert_eq!(reuse_events, 1);
}

async fn two_tabs_refreshing_at_once_stay_signed_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signup_for_refresh_token(&app.client).await;

    let tab = |token: String| {
        let client = app.new_client();
        let url = app.url("/api/auth/refresh");
        async move {
            let r = client
                .post(url)
                .json(&json!({ "refresh_token": token }))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, set_cookie(&r, REFRESH).map(|c| cookie_value(&c)))
        }
    };
    let ((s1, t1), (s2, t2)) = tokio::join!(tab(token.clone()), tab(token.clone()));

    assert_eq!((s1, s2), (200, 200));
    // Both tabs can go on refreshing.
    for next in [t1.unwrap(), t2.unwrap()] {
        let r = app
            .post_json(
                &app.new_client(),
                "/api/auth/refresh",
                &json!({ "refresh_token": next }),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
}

/// Another process's write transaction, held until released.
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(app: &TestApp) -> Self {
        use sqlx::{Connection, Executor};
        match app.database.backend() {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&app.database.url)
                    .await
                    .unwrap();
                conn.execute("BEGIN IMMEDIATE").await.unwrap();
                WriteLock::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&app.database.url)
                    .await
                    .unwrap();
                conn.execute("BEGIN; LOCK TABLE refresh_tokens IN SHARE ROW EXCLUSIVE MODE")
                    .await
                    .unwrap();
                WriteLock::Postgres(conn)
            }
        }
    }

    async fn release(self) {
        use sqlx::{Connection, Executor};
        match self {
            WriteLock::Sqlite(mut conn) => {
                conn.execute("COMMIT").await.unwrap();
                conn.close().await.unwrap();
            }
            WriteLock::Postgres(mut conn) => {
                conn.execute("COMMIT").await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }
}

/// A client that gives up mid-refresh drops the request's future while the
/// rotation waits for the write lock. Nothing of it may linger: on SQLite
/// the batch would stop after its BEGIN and hand the writer back inside an
/// open transaction, so every later write would go uncommitted, unseen by
/// other connections and lost at exit.
async fn a_refresh_abandoned_by_its_client_leaves_the_database_working(backend: Backend) {
    // Without throttling, the first write of a refresh is its rotation.
    let app = spawn_app_with(backend, &[("PORTCULLIS_THROTTLE", "off")]).await;
    let token = app.signup_for_refresh_token(&app.client).await;

    let lock = WriteLock::take(&app).await;
    let abandoned = app
        .new_client()
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(abandoned.is_err_and(|e| e.is_timeout()));
    // Time for the server to see the connection close and drop the request.
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.release().await;

    // A new session is written and found by the next request.
    let client = app.new_client();
    let email = app.signup(&client).await;
    let signed_in = app.login(&client, &email, GOOD_PASSWORD).await;
    assert_eq!(signed_in.status(), 200);
    assert_eq!(app.refresh(&client).await.status(), 200);
    // The abandoned rotation left the old token usable: it was either
    // rolled back or is within the grace window.
    let retried = app
        .post_json(
            &app.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": token }),
        )
        .await;
    assert_eq!(retried.status(), 200);
}

async fn refresh_without_a_valid_token_is_401_and_clears_cookies(backend: Backend) {
    let app = spawn_app(backend).await;

    let missing = app.refresh(&app.new_client()).await;
    let unknown = app
        .post_json(
            &app.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": "made-up" }),
        )
        .await;

    for response in [missing, unknown] {
        assert_eq!(response.status(), 401);
        let access = set_cookie(&response, ACCESS).unwrap();
        let refresh = set_cookie(&response, REFRESH).unwrap();
        assert!(access.contains("Max-Age=0") && access.contains("Path=/"));
        assert!(refresh.contains("Max-Age=0") && refresh.contains("Path=/api/auth"));
    }
}

async fn sessions_end_when_the_family_expires(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_ACCESS_TOKEN_TTL_SECS", "60"),
            ("PORTCULLIS_REFRESH_TOKEN_TTL_SECS", "120"),
        ],
    )
    .await;
    app.signup(&app.client).await;
    app.clock.advance(Duration::from_secs(100));
    assert_eq!(
        app.refresh(&app.client).await.status(),
        200,
        "still inside the family's lifetime"
    );

    // Rotation does not extend the absolute lifetime.
    app.clock.advance(Duration::from_secs(21));

    assert_eq!(app.refresh(&app.client).await.status(), 401);
}
