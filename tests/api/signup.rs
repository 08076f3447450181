//! Creating an account over the JSON API.

use serde_json::{json, Value};

use crate::helpers::{
    error_code, set_cookie, spawn_app, spawn_app_with, Backend, ACCESS, GOOD_PASSWORD, REFRESH,
};
use crate::on_both_backends;

on_both_backends!(
    a_taken_email_costs_the_same_hashing_as_a_new_one,
    fullwidth_and_idna_spellings_of_an_email_are_one_account,
    signup_signs_the_new_user_in,
    signup_refuses_a_taken_email_in_any_case,
    signup_explains_refused_input,
    twenty_concurrent_signups_create_one_user,
);

async fn signup_signs_the_new_user_in(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .post_json(
            &app.client,
            "/api/auth/signup",
            &json!({ "email": "  Ada@Example.com ", "password": GOOD_PASSWORD, "display_name": "Ada" }),
        )
        .await;

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(set_cookie(&response, ACCESS).is_some());
    assert!(set_cookie(&response, REFRESH).is_some());
    let body: Value = response.json().await.unwrap();
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["display_name"], "Ada");
    assert_eq!(user["role"], "user");
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Exactly these (serde_json keeps keys sorted): nothing else leaks.
    assert_eq!(
        keys,
        [
            "created_at",
            "display_name",
            "email",
            "id",
            "permissions",
            "role",
            "roles"
        ]
    );
    assert_eq!(user["roles"], serde_json::json!(["user"]));
    assert_eq!(user["permissions"], serde_json::json!([]));
    assert!(!body.to_string().contains("argon2"));

    let me = app.me(&app.client).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["user"], *user);
}

async fn signup_refuses_a_taken_email_in_any_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;

    let again = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": format!(" {} ", email.to_uppercase()), "password": GOOD_PASSWORD }),
        )
        .await;

    assert_eq!(again.status(), 409);
    let body: Value = again.json().await.unwrap();
    assert_eq!(error_code(&body), "email_taken");
}

async fn signup_explains_refused_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (
            json!({ "email": "not-an-email", "password": GOOD_PASSWORD }),
            "invalid_email",
        ),
        (
            json!({ "email": "a@example.com", "password": "short" }),
            "password_too_short",
        ),
        (
            json!({ "email": "a@example.com", "password": "password1234" }),
            "password_too_weak",
        ),
        (
            json!({ "email": "a@example.com", "password": "x".repeat(129) }),
            "password_too_long",
        ),
        (
            json!({ "email": "a@example.com", "password": GOOD_PASSWORD, "display_name": "a\u{0}b" }),
            "invalid_display_name",
        ),
    ];
    for (body, code) in cases {
        let response = app
            .post_json(&app.new_client(), "/api/auth/signup", &body)
            .await;
        assert_eq!(response.status(), 400, "{code}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), code);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Nothing was written.
    let users: i64 = app.sql.scalar("SELECT COUNT(*) FROM users", &[]).await;
    assert_eq!(users, 0);
}

async fn twenty_concurrent_signups_create_one_user(backend: Backend) {
    // All twenty hash before any insert; let them queue rather than get 503
    // (that refusal has its own test), so only uniqueness decides here.
    let app = spawn_app_with(backend, &[("PORTCULLIS_HASH_QUEUE_TIMEOUT_MS", "60000")]).await;
    let body = json!({ "email": "race@example.com", "password": GOOD_PASSWORD });

    let attempts = (0..20).map(|_| {
        let client = app.new_client();
        let url = app.url("/api/auth/signup");
        let body = body.clone();
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(attempts).await;
    statuses.sort();

    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let users: i64 = app
        .sql
        .scalar(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            &["race@example.com"],
        )
        .await;
    assert_eq!(users, 1);
}

/// The time to answer must not tell whether an email is taken: both
/// answers hash the password once (counted, not timed).
async fn a_taken_email_costs_the_same_hashing_as_a_new_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let taken = app.signup(&app.new_client()).await;
    let signup = |email: String| {
        let app = &app;
        async move {
            let before = app.hashes.get();
            let response = app
                .post_json(
                    &app.new_client(),
                    "/api/auth/signup",
                    &json!({ "email": email, "password": GOOD_PASSWORD }),
                )
                .await;
            (response.status().as_u16(), app.hashes.get() - before)
        }
    };

    let (new_status, new_hashes) = signup("brand-new@example.com".to_owned()).await;
    let (taken_status, taken_hashes) = signup(taken).await;

    assert_eq!((new_status, taken_status), (201, 409));
    assert_eq!(new_hashes, 1);
    assert_eq!(taken_hashes, new_hashes);
}

async fn fullwidth_and_idna_spellings_of_an_email_are_one_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": "ada@bücher.example", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(first.status(), 201);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@xn--bcher-kva.example");

    for spelling in ["ada@xn--bcher-kva.example", "ＡＤＡ@BÜCHER.example"] {
        let again = app
            .post_json(
                &app.new_client(),
                "/api/auth/signup",
                &json!({ "email": spelling, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(again.status(), 409, "{spelling}");
        let login = app.login(&app.new_client(), spelling, GOOD_PASSWORD).await;
        assert_eq!(login.status(), 200, "{spelling}");
    }
}

/// Rows written in one PostgreSQL transaction share its id (`xmin`).
#[tokio::test]
async fn a_sign_up_commits_once_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let email = app.signup(&app.client).await;

    let rows_and_transactions: String = app
        .sql
        .scalar(
            "WITH u AS (SELECT id, xmin FROM users WHERE email = $1), \
             written AS ( \
               SELECT xmin::text AS tx FROM u \
               UNION ALL SELECT s.xmin::text FROM sessions s, u WHERE s.user_id = u.id \
               UNION ALL SELECT r.xmin::text FROM refresh_tokens r, u WHERE r.user_id = u.id \
               UNION ALL SELECT a.xmin::text FROM audit_events a, u \
                 WHERE a.user_id = u.id AND a.event_type = 'signup') \
             SELECT count(*) || ' rows in ' || count(DISTINCT tx) || ' transaction(s)' FROM written",
            &[&email],
        )
        .await;

    assert_eq!(rows_and_transactions, "4 rows in 1 transaction(s)");
}
