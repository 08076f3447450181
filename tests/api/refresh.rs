//! Refresh-token rotation: reuse detection, races, expiry.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    cookie_value, jwt_claims, set_cookie, spawn_app, spawn_app_with, Backend, TestApp, ACCESS,
    GOOD_PASSWORD, REFRESH,
};
use crate::on_both_backends;

on_both_backends!(
    refresh_rotates_the_token,
    replay_after_the_grace_window_revokes_the_session,
    two_tabs_refreshing_at_once_stay_signed_in,
    a_refresh_abandoned_by_its_client_leaves_the_database_working,
    refresh_without_a_valid_token_is_401_and_clears_cookies,
    sessions_end_when_the_family_expires,
    revocation_wins_against_rotations_in_flight,
    a_token_presented_twice_in_the_window_has_one_successor,
    a_replay_after_five_seconds_is_reuse,
    an_idle_session_can_no_longer_be_refreshed,
    an_access_token_never_outlives_its_session,
    two_refresh_cookies_are_refused,
    a_refresh_must_continue_the_access_tokens_session,
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

/// The refresh token from a bearer response, and whether it was 200.
async fn bearer_token_of(response: reqwest::Response) -> Option<String> {
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    body["refresh_token"].as_str().map(str::to_owned)
}

/// A thief refreshing a stolen token non-stop while the owner signs out,
/// or signs out everywhere else: once the revocation has answered, nothing
/// the thief ever held still works. Repeated, since each round is a race.
async fn revocation_wins_against_rotations_in_flight(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_THROTTLE", "off")]).await;
    for round in 0..12 {
        let victim = app.bearer_session().await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thief = {
            let stop = stop.clone();
            let app = &app;
            let mut latest = victim.refresh.clone();
            async move {
                let mut held = vec![latest.clone()];
                // Goes on a little after the revocation answered.
                let mut after_stop = 0;
                while after_stop < 3 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        after_stop += 1;
                    }
                    match bearer_token_of(app.bearer_refresh(&latest).await).await {
                        Some(next) => {
                            held.push(next.clone());
                            latest = next;
                        }
                        None => tokio::task::yield_now().await,
                    }
                }
                held
            }
        };
        let owner = async {
            tokio::time::sleep(Duration::from_millis(5 + round)).await;
            let revoked = if round % 2 == 0 {
                app.with_bearer(reqwest::Method::POST, "/api/auth/logout", &victim.access)
                    .await
            } else {
                // A password change ends every other session; the thief's
                // is one of them.
                let other = app.bearer_login(&victim.email).await;
                app.with_bearer(
                    reqwest::Method::POST,
                    "/api/auth/sessions/revoke-others",
                    &other.access,
                )
                .await
            };
            assert_eq!(revoked.status(), 204, "round {round}");
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        };
        let (held, ()) = tokio::join!(thief, owner);

        for token in held {
            let status = app.bearer_refresh(&token).await.status();
            assert_eq!(
                status, 401,
                "round {round}: a token of the revoked session works"
            );
        }
    }
}

/// Inside the grace window a spent token gets its one successor again,
/// never a second, independent one; outside it, it is reuse.
async fn a_token_presented_twice_in_the_window_has_one_successor(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.bearer_session().await;

    let first = bearer_token_of(app.bearer_refresh(&session.refresh).await).await;
    app.clock.advance(Duration::from_secs(2));
    let second = bearer_token_of(app.bearer_refresh(&session.refresh).await).await;
    let third = bearer_token_of(app.bearer_refresh(&session.refresh).await).await;

    let first = first.expect("the first presentation rotates");
    assert_eq!(second.as_deref(), Some(first.as_str()), "one successor");
    assert_eq!(third.as_deref(), Some(first.as_str()), "one successor");
    let successors: i64 = app
        .sql
        .scalar(
            "SELECT COUNT(*) FROM refresh_tokens WHERE parent_id IS NOT NULL",
            &[],
        )
        .await;
    assert_eq!(successors, 1, "no branch was minted");
    // After the window the spent token is a replay: the session ends, and
    // the successor with it.
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(app.bearer_refresh(&session.refresh).await.status(), 401);
    assert_eq!(app.bearer_refresh(&first).await.status(), 401);
}

/// The grace window is 5 s by default, not 10.
async fn a_replay_after_five_seconds_is_reuse(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.bearer_session().await;
    let next = bearer_token_of(app.bearer_refresh(&session.refresh).await)
        .await
        .unwrap();

    app.clock.advance(Duration::from_secs(6));

    assert_eq!(app.bearer_refresh(&session.refresh).await.status(), 401);
    assert_eq!(app.bearer_refresh(&next).await.status(), 401);
}

async fn an_idle_session_can_no_longer_be_refreshed(backend: Backend) {
    let app = spawn_app(backend).await;
    let busy = app.bearer_session().await;
    let idle = app.bearer_session().await;
    let day = Duration::from_secs(24 * 3600);

    // Each use restarts the idle clock...
    app.clock.advance(2 * day);
    let busy_next = bearer_token_of(app.bearer_refresh(&busy.refresh).await)
        .await
        .expect("used within the idle timeout");
    app.clock.advance(2 * day);
    assert!(bearer_token_of(app.bearer_refresh(&busy_next).await)
        .await
        .is_some());
    // ...but three days without one end the session, well before its
    // absolute end of seven.
    assert_eq!(app.bearer_refresh(&idle.refresh).await.status(), 401);

    let short = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_ACCESS_TOKEN_TTL_SECS", "300"),
            ("PORTCULLIS_SESSION_IDLE_TIMEOUT", "10m"),
        ],
    )
    .await;
    let session = short.bearer_session().await;
    short.clock.advance(Duration::from_secs(601));
    assert_eq!(short.bearer_refresh(&session.refresh).await.status(), 401);
}

async fn an_access_token_never_outlives_its_session(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_ACCESS_TOKEN_TTL_SECS", "900"),
            ("PORTCULLIS_REFRESH_TOKEN_TTL_SECS", "1000"),
        ],
    )
    .await;
    let session = app.bearer_session().await;
    app.clock.advance(Duration::from_secs(500));

    let response = app.bearer_refresh(&session.refresh).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let exp = jwt_claims(body["access_token"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap();
    let session_end = chrono::DateTime::parse_from_rfc3339(
        body["session"]["refresh_expires_at"].as_str().unwrap(),
    )
    .unwrap()
    .timestamp();
    assert!(
        exp <= session_end,
        "exp {exp} runs past the session's end {session_end}"
    );
    assert!(body["expires_in"].as_i64().unwrap() <= 500);
}

/// A sibling subdomain can plant a second refresh cookie; the server
/// refuses both rather than pick one.
async fn two_refresh_cookies_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mine = app.signup_for_refresh_token(&app.new_client()).await;
    let planted = app.signup_for_refresh_token(&app.new_client()).await;

    let response = app
        .new_client()
        .post(app.url("/api/auth/refresh"))
        .header("cookie", format!("{REFRESH}={planted}; {REFRESH}={mine}"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    // Neither token was spent: each alone still refreshes.
    for token in [mine, planted] {
        let alone = app
            .new_client()
            .post(app.url("/api/auth/refresh"))
            .header("cookie", format!("{REFRESH}={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(alone.status(), 200);
    }
}

/// A refresh cookie of another session than the access cookie sent with
/// it (a tossed cookie) is refused, and spends nothing.
async fn a_refresh_must_continue_the_access_tokens_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let signed_up = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": "toss@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    let access = cookie_value(&set_cookie(&signed_up, ACCESS).unwrap());
    let own = cookie_value(&set_cookie(&signed_up, REFRESH).unwrap());
    let other = app.signup_for_refresh_token(&app.new_client()).await;
    let refresh_with = |refresh: String| {
        let request = app
            .new_client()
            .post(app.url("/api/auth/refresh"))
            .header("cookie", format!("{ACCESS}={access}; {REFRESH}={refresh}"));
        async move { request.send().await.unwrap().status() }
    };

    assert_eq!(refresh_with(other.clone()).await, 401);
    // Even once the access token has lapsed, it still names its session.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(refresh_with(other.clone()).await, 401);
    assert_eq!(refresh_with(own).await, 200);
    let alone = app
        .post_json(
            &app.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": other }),
        )
        .await;
    assert_eq!(alone.status(), 200, "the refused token was not spent");
}
