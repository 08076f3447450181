//! Brute-force throttling and rate limits, kept in the database.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    spawn_app_with, Backend, ServerProcess, TestApp, TestDatabase, GOOD_PASSWORD,
};
use crate::on_both_backends;
use crate::sql::TestSql;

on_both_backends!(
    account_throttle_kicks_in_backs_off_and_releases,
    a_successful_sign_in_resets_the_account_count,
    throttled_answers_are_the_same_for_real_and_unknown_accounts,
    one_address_failing_across_accounts_is_throttled,
    forwarded_for_is_believed_only_from_trusted_proxies,
    signup_is_rate_limited_per_address,
    refresh_is_rate_limited_per_address,
    two_processes_on_one_database_enforce_one_limit,
    disabled_throttling_never_refuses,
    a_burst_of_parallel_guesses_gets_only_the_free_attempts,
    counting_a_hit_counts_on_and_starts_over,
    settling_clears_or_refunds_each_key_and_lifts_only_its_own_block,
    parallel_guesses_after_a_block_get_one_attempt_across_replicas,
    others_failing_cannot_lock_the_owner_out_of_a_known_device,
    the_current_password_check_is_throttled_like_a_sign_in,
);

/// Counts go up by one per hit and start over once the window has passed;
/// on PostgreSQL the asynchronous commit of a count stays with that
/// statement: the next write on the same connection commits synchronously.
async fn counting_a_hit_counts_on_and_starts_over(backend: Backend) {
    use chrono::{SubsecRound, TimeDelta, Utc};
    use portcullis::server::store::{
        db::Db,
        rate_limits::{hit, Hit},
    };
    let counted = |hit: Hit| match hit {
        Hit::Counted(count) => count,
        Hit::Refused { .. } => panic!("refused under the limit"),
    };

    let database = TestDatabase::create(backend).await;
    let db = Db::connect(&database.url, 1).await.unwrap();
    db.migrate().await.unwrap();
    let start = Utc::now().trunc_subsecs(0);
    let long_ago = start - TimeDelta::hours(1);

    for expected in 1..=3 {
        let count = counted(hit(&db, "test:key", 3, long_ago, start).await.unwrap());
        assert_eq!(count.hits, expected);
    }
    // A fourth is refused, and writes nothing.
    let refused = hit(&db, "test:key", 3, long_ago, start).await.unwrap();
    assert!(
        matches!(refused, Hit::Refused { window_started_at } if window_started_at == start),
        "{refused:?}"
    );
    let later = start + TimeDelta::minutes(2);
    let count = counted(hit(&db, "test:key", 3, start, later).await.unwrap());
    assert_eq!(
        count.hits, 1,
        "a window that began at the cut-off starts over"
    );
    assert_eq!(count.window_started_at, later);

    if let Db::Postgres(pool) = &db {
        let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(setting, "on");
    }
    db.close().await;
}

/// A success settles every key of its claim in one statement: account
/// keys start over, the address's count takes the attempt back and lifts
/// the block that attempt imposed, never one imposed since.
async fn settling_clears_or_refunds_each_key_and_lifts_only_its_own_block(backend: Backend) {
    use chrono::{SubsecRound, TimeDelta, Utc};
    use portcullis::server::store::{
        db::Db,
        rate_limits::{claim, settle, Claim, Settle},
    };

    let database = TestDatabase::create(backend).await;
    let db = Db::connect(&database.url, 2).await.unwrap();
    db.migrate().await.unwrap();
    let now = Utc::now().trunc_subsecs(0);
    let long_ago = now - TimeDelta::hours(1);
    let blocked_until = now + TimeDelta::minutes(5);
    // Third hit on any key blocks it.
    let block = |_: usize, hits: i64| (hits >= 3).then_some(blocked_until);
    let keys = ["a:account", "b:own-block", "c:newer-block"];
    let mut imposed = Vec::new();
    for _ in 0..3 {
        match claim(&db, &keys, long_ago, now, &block).await.unwrap() {
            Claim::Counted(blocks) => imposed = blocks,
            refused => panic!("refused before any block: {refused:?}"),
        }
    }
    assert_eq!(imposed, vec![Some(blocked_until); 3]);

    let mut tx = db.write_tx().await.unwrap();
    settle(
        &mut tx,
        &[
            ("a:account", Settle::Clear),
            (
                "b:own-block",
                Settle::Refund {
                    imposed: imposed[1],
                },
            ),
            // Another attempt blocked this key later: that block stands.
            ("c:newer-block", Settle::Refund { imposed: Some(now) }),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let sql = TestSql::open(&database.url).await;
    let rows: Vec<(String, i64, i64)> = sql
        .rows(
            "SELECT key, hits, CAST(CASE WHEN blocked_until IS NULL THEN 0 ELSE 1 END AS BIGINT) \
             FROM rate_limits ORDER BY key",
        )
        .await;
    assert_eq!(
        rows,
        [
            ("a:account".to_owned(), 0, 0),
            ("b:own-block".to_owned(), 2, 0),
            ("c:newer-block".to_owned(), 2, 1),
        ]
    );
    sql.close().await;
    db.close().await;
}

const WRONG: &str = "not-the-password-at-all";

async fn attempt(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.login(&app.new_client(), email, password).await
}

/// A failed sign-in for `email` that claims to come from `forwarded_for`.
async fn wrong_login_via(app: &TestApp, forwarded_for: &str, email: &str) -> u16 {
    app.new_client()
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "email": email, "password": WRONG }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn throttled_events(app: &TestApp) -> Vec<Value> {
    let rows: Vec<sqlx::types::Json<Value>> = app
        .sql
        .column("SELECT details FROM audit_events WHERE event_type = 'throttled' ORDER BY id")
        .await;
    rows.into_iter().map(|j| j.0).collect()
}

async fn account_throttle_kicks_in_backs_off_and_releases(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let email = app.signup(&app.client).await;

    for _ in 0..5 {
        assert_eq!(attempt(&app, &email, WRONG).await.status(), 401);
    }
    // Five failures: now even the right password waits.
    let refused = attempt(&app, &email, GOOD_PASSWORD).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 5);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    assert!(body["request_id"].is_string());

    // The block ends; another failure doubles the next one.
    app.clock.advance(Duration::from_secs(5));
    assert_eq!(attempt(&app, &email, WRONG).await.status(), 401);
    let refused = attempt(&app, &email, GOOD_PASSWORD).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 10);

    // Backing off, not locking out: the owner gets in once it passes.
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(attempt(&app, &email, GOOD_PASSWORD).await.status(), 200);

    // Each block imposed is audited, with no secret; the requests it
    // refused wrote nothing, so a flood of them cannot fill the log.
    let events = throttled_events(&app).await;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["scope"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("login_account", "blocked"), ("login_account", "blocked")]
    );
    assert!(!events.iter().any(|e| e.to_string().contains(GOOD_PASSWORD)));
}

async fn a_successful_sign_in_resets_the_account_count(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let email = app.signup(&app.client).await;

    for _ in 0..4 {
        assert_eq!(attempt(&app, &email, WRONG).await.status(), 401);
    }
    assert_eq!(attempt(&app, &email, GOOD_PASSWORD).await.status(), 200);
    // The count started over: four more failures are still below the limit.
    for _ in 0..4 {
        assert_eq!(attempt(&app, &email, WRONG).await.status(), 401);
    }
    assert_eq!(attempt(&app, &email, GOOD_PASSWORD).await.status(), 200);
}

async fn throttled_answers_are_the_same_for_real_and_unknown_accounts(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let real = app.signup(&app.client).await;
    let unknown = "nobody-here@example.com";

    let mut answers = Vec::new();
    for email in [real.as_str(), unknown] {
        for _ in 0..5 {
            assert_eq!(attempt(&app, email, WRONG).await.status(), 401);
        }
        let refused = attempt(&app, email, WRONG).await;
        let status = refused.status();
        let wait = retry_after(&refused);
        let mut body: Value = refused.json().await.unwrap();
        body.as_object_mut().unwrap().remove("request_id");
        answers.push((status, wait, body));
    }
    assert_eq!(answers[0].0, 429);
    assert_eq!(answers[0], answers[1]);
}

async fn one_address_failing_across_accounts_is_throttled(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_LOGIN_FAILURES_PER_IP", "3"),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let victim = |n: usize| format!("victim-{n}@example.com");
    for n in 0..3 {
        assert_eq!(wrong_login_via(&app, "198.51.100.7", &victim(n)).await, 401);
    }
    // A fourth, fresh account from the same address is refused...
    let refused = app
        .new_client()
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({ "email": victim(99), "password": WRONG }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 5);
    // ...while another address is not.
    assert_eq!(
        wrong_login_via(&app, "203.0.113.50", &victim(99)).await,
        401
    );

    let scopes: Vec<Value> = throttled_events(&app)
        .await
        .into_iter()
        .map(|e| e["scope"].clone())
        .collect();
    assert!(scopes.contains(&json!("login_ip")), "{scopes:?}");
}

async fn forwarded_for_is_believed_only_from_trusted_proxies(backend: Backend) {
    let overrides = [("PORTCULLIS_LOGIN_FAILURES_PER_IP", "2")];
    let direct = spawn_app_with(backend, &overrides).await;
    // Untrusted peer: a new X-Forwarded-For each time changes nothing.
    for n in 0..2 {
        let status = wrong_login_via(
            &direct,
            &format!("192.0.2.{n}"),
            &format!("a{n}@example.com"),
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        wrong_login_via(&direct, "192.0.2.200", "a9@example.com").await,
        429
    );

    // Behind a trusted proxy, the forwarded address is the client: it is
    // what sessions show, and what throttling counts.
    let proxied = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_LOGIN_FAILURES_PER_IP", "2"),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    )
    .await;
    let client = proxied.new_client();
    let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
    let response = client
        .post(proxied.url("/api/auth/signup"))
        .header("x-forwarded-for", "10.9.9.9, 198.51.100.23")
        .json(&json!({ "email": email, "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let listed: Value = client
        .get(proxied.url("/api/auth/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["sessions"][0]["ip"], "198.51.100.23");
    for n in 0..3 {
        let status = wrong_login_via(
            &proxied,
            &format!("192.0.2.{n}"),
            &format!("a{n}@example.com"),
        )
        .await;
        assert_eq!(status, 401, "attempt {n}");
    }
}

async fn signup_is_rate_limited_per_address(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_SIGNUP_LIMIT_PER_HOUR", "2")]).await;
    app.signup(&app.new_client()).await;
    app.signup(&app.new_client()).await;

    let refused = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": "third@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 3600);
    // Refused before anything was written: no user, no audit row, no count.
    let users: i64 = app.sql.scalar("SELECT COUNT(*) FROM users", &[]).await;
    assert_eq!(users, 2);
    assert!(throttled_events(&app).await.is_empty());
    let hits: i64 = app
        .sql
        .scalar(
            "SELECT hits FROM rate_limits WHERE key LIKE 'signup:%'",
            &[],
        )
        .await;
    assert_eq!(hits, 2);

    app.clock.advance(Duration::from_secs(3600));
    app.signup(&app.new_client()).await;
}

async fn refresh_is_rate_limited_per_address(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_REFRESH_LIMIT_PER_MINUTE", "2")]).await;
    let client = app.new_client();
    app.signup(&client).await;

    assert_eq!(app.refresh(&client).await.status(), 200);
    assert_eq!(app.refresh(&client).await.status(), 200);
    let refused = app.refresh(&client).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 60);
    // A refusal is not a sign-out: the cookies stay and work later.
    assert!(refused.headers().get("set-cookie").is_none());
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(app.refresh(&client).await.status(), 200);
}

/// Two real `portcullis` processes, one database: failures on either count
/// towards one limit, so the sixth attempt is refused by both.
async fn two_processes_on_one_database_enforce_one_limit(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let first = ServerProcess::start(&database.url, &[]);
    let second = ServerProcess::start(&database.url, &[]);
    let client = reqwest::Client::new();
    let signup = client
        .post(first.url("/api/auth/signup"))
        .json(&json!({ "email": "shared@example.com", "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);

    let login = |server: &ServerProcess, password: &str| {
        client
            .post(server.url("/api/auth/login"))
            .json(&json!({ "email": "shared@example.com", "password": password }))
            .send()
    };
    for n in 0..5 {
        let server = if n % 2 == 0 { &first } else { &second };
        assert_eq!(
            login(server, WRONG).await.unwrap().status(),
            401,
            "attempt {n}"
        );
    }
    // Three failures went to the first process, two to the second; neither
    // alone reached five, yet both refuse.
    assert_eq!(login(&first, GOOD_PASSWORD).await.unwrap().status(), 429);
    assert_eq!(login(&second, GOOD_PASSWORD).await.unwrap().status(), 429);
}

async fn disabled_throttling_never_refuses(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_THROTTLE", "off")]).await;
    let email = app.signup(&app.client).await;
    for _ in 0..8 {
        assert_eq!(attempt(&app, &email, WRONG).await.status(), 401);
    }
    assert_eq!(attempt(&app, &email, GOOD_PASSWORD).await.status(), 200);
    assert!(throttled_events(&app).await.is_empty());
}

/// Guesses fired all at once must not slip past the limit while the first
/// ones are still being checked.
async fn a_burst_of_parallel_guesses_gets_only_the_free_attempts(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_HASH_CONCURRENCY", "1"),
            ("PORTCULLIS_HASH_QUEUE_LENGTH", "100"),
            ("PORTCULLIS_HASH_QUEUE_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let email = app.signup(&app.client).await;

    let attempts = (0..20).map(|_| attempt(&app, &email, WRONG));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();

    let guessed = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((guessed, refused), (5, 15), "{statuses:?}");
}

/// After a block runs out, guesses fired at once on every hashing slot of
/// two replicas are counted before any is checked: one goes ahead, the
/// block it imposes stops the rest.
async fn parallel_guesses_after_a_block_get_one_attempt_across_replicas(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let wide = [("PORTCULLIS_HASH_CONCURRENCY", "4")];
    let first = ServerProcess::start(&database.url, &wide);
    let second = ServerProcess::start(&database.url, &wide);
    let client = reqwest::Client::new();
    let signup = client
        .post(first.url("/api/auth/signup"))
        .json(&json!({ "email": "burst@example.com", "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let guess = |server: &ServerProcess| {
        client
            .post(server.url("/api/auth/login"))
            .json(&json!({ "email": "burst@example.com", "password": WRONG }))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(guess(&first).await.unwrap().status(), 401);
    }
    assert_eq!(guess(&second).await.unwrap().status(), 429);
    // The first block is 5 s (real time: these are real processes).
    tokio::time::sleep(Duration::from_millis(5_500)).await;

    let burst = (0..8).map(|n| guess(if n % 2 == 0 { &first } else { &second }));
    let statuses: Vec<u16> = futures::future::join_all(burst)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();

    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (1, 7), "{statuses:?}");
}

/// Signs in as `email` from `address` (via the trusted proxy), sending
/// `device` as the device cookie; returns the status and the device cookie
/// it set, if any.
async fn login_from(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
    device: Option<&str>,
) -> (u16, Option<String>) {
    let mut request = app
        .new_client()
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({ "email": email, "password": password }));
    if let Some(device) = device {
        request = request.header("cookie", format!("portcullis_device={device}"));
    }
    let response = request.send().await.unwrap();
    let set = crate::helpers::set_cookie(&response, "portcullis_device")
        .map(|c| crate::helpers::cookie_value(&c));
    (response.status().as_u16(), set)
}

async fn others_failing_cannot_lock_the_owner_out_of_a_known_device(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            ("PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT_ALL_NETWORKS", "3"),
        ],
    )
    .await;
    let email = app.signup(&app.new_client()).await;
    let (status, device) = login_from(&app, "198.51.100.1", &email, GOOD_PASSWORD, None).await;
    assert_eq!(status, 200);
    let device = device.expect("a sign-in remembers the browser");
    let other = app.signup(&app.new_client()).await;
    let (_, others_device) = login_from(&app, "198.51.100.1", &other, GOOD_PASSWORD, None).await;

    // An attacker fails from one address until the account is blocked...
    for _ in 0..3 {
        let (status, _) = login_from(&app, "203.0.113.9", &email, WRONG, None).await;
        assert_eq!(status, 401);
    }
    let (attacker, _) = login_from(&app, "203.0.113.9", &email, GOOD_PASSWORD, None).await;
    assert_eq!(attacker, 429);
    // ...everywhere, for a browser the account does not know...
    let (stranger, _) = login_from(&app, "192.0.2.50", &email, GOOD_PASSWORD, None).await;
    assert_eq!(stranger, 429);
    // ...or one that knows another account...
    let (borrowed, _) = login_from(
        &app,
        "192.0.2.51",
        &email,
        GOOD_PASSWORD,
        others_device.as_deref(),
    )
    .await;
    assert_eq!(borrowed, 429);
    // ...but its owner, on the browser that signed in before, gets in
    // from yet another address.
    let (owner, _) = login_from(&app, "198.51.100.2", &email, GOOD_PASSWORD, Some(&device)).await;
    assert_eq!(owner, 200);
    // A forged device cookie is no way around the block.
    let (forged, _) =
        login_from(&app, "192.0.2.52", &email, GOOD_PASSWORD, Some("AAAA.BBBB")).await;
    assert_eq!(forged, 429);
}

/// A stolen session must not guess the password at hashing speed through
/// the password change; its failures count with the sign-in's.
async fn the_current_password_check_is_throttled_like_a_sign_in(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let email = app.signup(&app.client).await;
    let change = |current: &'static str| {
        app.client
            .put(app.url("/api/auth/profile"))
            .json(
                &json!({ "current_password": current, "new_password": "a-brand-new-passphrase-7" }),
            )
            .send()
    };

    for _ in 0..5 {
        assert_eq!(change(WRONG).await.unwrap().status(), 403);
    }
    let refused = change(GOOD_PASSWORD).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(retry_after(&refused) > 0);
    assert_eq!(attempt(&app, &email, GOOD_PASSWORD).await.status(), 429);
    // Once the block passes, the owner can change it.
    app.clock.advance(Duration::from_secs(5));
    assert_eq!(change(GOOD_PASSWORD).await.unwrap().status(), 200);
}
