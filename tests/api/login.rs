//! Signing in over the JSON API: cookies, uniform refusals, load, hash upgrades.

use serde_json::{json, Value};

use crate::helpers::{
    cookie_value, error_code, jwt_claims, set_cookie, set_cookies, spawn_app, spawn_app_with,
    Backend, TestApp, ACCESS, GOOD_PASSWORD, REFRESH,
};
use crate::on_both_backends;

on_both_backends!(
    login_sets_http_only_cookies_and_reports_expiry,
    unknown_email_and_wrong_password_get_identical_401s,
    a_login_flood_gets_503_with_retry_after,
    raised_hashing_parameters_upgrade_the_hash_at_login,
);

async fn login_sets_http_only_cookies_and_reports_expiry(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;

    let response = app.login(&app.client, &email, GOOD_PASSWORD).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let access = set_cookie(&response, ACCESS).unwrap();
    let refresh = set_cookie(&response, REFRESH).unwrap();
    for attr in ["HttpOnly", "Path=/;", "SameSite=Lax", "Max-Age=900"] {
        assert!(
            access.contains(attr) || access.ends_with(attr.trim_end_matches(';')),
            "{access} lacks {attr}"
        );
    }
    for attr in [
        "HttpOnly",
        "Path=/api/auth",
        "SameSite=Strict",
        "Max-Age=604800",
    ] {
        assert!(refresh.contains(attr), "{refresh} lacks {attr}");
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], email.as_str());
    let access_at = chrono::DateTime::parse_from_rfc3339(
        body["session"]["access_expires_at"].as_str().unwrap(),
    )
    .unwrap();
    let refresh_at = chrono::DateTime::parse_from_rfc3339(
        body["session"]["refresh_expires_at"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!((refresh_at - access_at).num_seconds(), 7 * 24 * 3600 - 900);
    assert!(
        body.get("access_token").is_none(),
        "no token in a cookie-transport body"
    );
}

async fn unknown_email_and_wrong_password_get_identical_401s(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;

    let unknown = app
        .login(&app.new_client(), "nobody@example.com", GOOD_PASSWORD)
        .await;
    let wrong = app
        .login(&app.new_client(), &email, "wrong-password-123")
        .await;
    let malformed = app
        .login(&app.new_client(), "not an email", GOOD_PASSWORD)
        .await;

    let mut bodies = Vec::new();
    for response in [unknown, wrong, malformed] {
        assert_eq!(response.status(), 401);
        assert!(set_cookies(&response).is_empty());
        let mut body: Value = response.json().await.unwrap();
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert_eq!(error_code(&bodies[0]), "invalid_credentials");
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
}

async fn a_login_flood_gets_503_with_retry_after(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_HASH_CONCURRENCY", "1"),
            ("PORTCULLIS_HASH_QUEUE_TIMEOUT_MS", "1"),
        ],
    )
    .await;
    // Twelve accounts: parallel attempts on one account are throttled
    // before they reach the hasher (each counts until it succeeds).
    let mut emails = Vec::new();
    for _ in 0..12 {
        emails.push(app.signup(&app.new_client()).await);
    }

    let attempts = emails.into_iter().map(|email| {
        let client = app.new_client();
        let url = app.url("/api/auth/login");
        let body = json!({ "email": email, "password": GOOD_PASSWORD });
        async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            (
                r.status().as_u16(),
                r.headers().get("retry-after").is_some(),
            )
        }
    });
    let results = futures::future::join_all(attempts).await;

    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!busy.is_empty(), "{results:?}");
    assert!(busy.iter().all(|(_, retry_after)| *retry_after));
    assert!(
        results.iter().all(|(s, _)| *s == 200 || *s == 503),
        "{results:?}"
    );
    assert!(results.iter().any(|(s, _)| *s == 200));
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    app.sql
        .scalar("SELECT password_hash FROM users WHERE email = $1", &[email])
        .await
}

async fn raised_hashing_parameters_upgrade_the_hash_at_login(backend: Backend) {
    let weak = [
        ("PORTCULLIS_ARGON2_MEMORY_KIB", "8192"),
        ("PORTCULLIS_ARGON2_ITERATIONS", "1"),
    ];
    let first = spawn_app_with(backend, &weak).await;
    let email = first.signup(&first.new_client()).await;
    assert!(stored_hash(&first, &email).await.contains("m=8192,t=1"));

    // The same database, restarted with the default (stronger) parameters.
    let second = crate::helpers::spawn_app_on(first.database, &[]).await;
    assert_eq!(
        second
            .login(&second.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        200
    );

    let upgraded = stored_hash(&second, &email).await;
    assert!(upgraded.contains("m=19456,t=2,p=1"), "{upgraded}");
    assert_eq!(
        second
            .login(&second.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        200
    );
}

/// Rows written in one PostgreSQL transaction share its id (`xmin`): a
/// sign-in that succeeds waits for the disk once, not once per write.
#[tokio::test]
async fn a_successful_sign_in_commits_once_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let email = app.signup(&app.new_client()).await;

    let response = app.login(&app.client, &email, GOOD_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let access = cookie_value(&set_cookie(&response, ACCESS).unwrap());
    let session = jwt_claims(&access)["sid"].as_str().unwrap().to_owned();

    let rows_and_transactions: String = app
        .sql
        .scalar(
            "WITH u AS (SELECT id FROM users WHERE email = $1), \
             newest AS (SELECT id, xmin FROM sessions WHERE id::text = $2), \
             written AS ( \
               SELECT xmin::text AS tx FROM newest \
               UNION ALL SELECT r.xmin::text FROM refresh_tokens r, newest \
                 WHERE r.family_id = newest.id \
               UNION ALL SELECT a.xmin::text FROM audit_events a, u \
                 WHERE a.user_id = u.id AND a.event_type = 'login' AND a.outcome = 'success' \
               UNION ALL SELECT xmin::text FROM rate_limits WHERE key LIKE 'login:ip:%') \
             SELECT count(*) || ' rows in ' || count(DISTINCT tx) || ' transaction(s)' FROM written",
            &[&email, &session],
        )
        .await;

    // The session, its token, the audit event and the address's count,
    // refunded because the attempt succeeded.
    assert_eq!(rows_and_transactions, "4 rows in 1 transaction(s)");
}
