//! Roles in the token, the first administrator (the `admin grant` command
//! and `PORTCULLIS_BOOTSTRAP_ADMIN`), and tokens made stale by a change.

use serde_json::Value;

use crate::helpers::{
    cookie_value, error_code, jwt_claims, server_vars, set_cookie, spawn_app, spawn_app_with,
    within_a_second, Backend, ServerProcess, TestApp, ACCESS, GOOD_PASSWORD,
};
use crate::on_both_backends;

on_both_backends!(
    a_new_account_holds_user_only_and_its_token_says_so,
    admin_grant_is_idempotent_and_says_what_it_did,
    a_grant_makes_earlier_tokens_stale_until_a_refresh,
    the_bootstrap_admin_is_an_administrator_from_sign_up,
    the_bootstrap_admin_is_made_at_start_up_if_the_account_exists,
    the_bootstrap_setting_stands_aside_once_someone_administers,
    a_token_is_current_only_at_the_users_own_version,
);

/// Runs `portcullis admin grant EMAIL ROLE` against the app's database.
fn grant(app: &TestApp, email: &str, role: &str) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["admin", "grant", email, role])
        .env_clear()
        .envs(server_vars(&app.database.url, &[]))
        .output()
        .expect("run the portcullis binary");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

async fn access_claims(app: &TestApp, email: &str) -> Value {
    let response = app.login(&app.new_client(), email, GOOD_PASSWORD).await;
    assert_eq!(response.status(), 200);
    jwt_claims(&cookie_value(&set_cookie(&response, ACCESS).unwrap()))
}

async fn a_new_account_holds_user_only_and_its_token_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;

    let claims = access_claims(&app, &email).await;
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    assert_eq!(claims["permissions"], serde_json::json!([]));
    assert_eq!(claims["ver"], 1);
    assert!(claims.get("attrs").is_none(), "{claims}");

    let me: Value = app.me(&app.client).await.json().await.unwrap();
    assert_eq!(me["user"]["roles"], serde_json::json!(["user"]));
}

async fn admin_grant_is_idempotent_and_says_what_it_did(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;

    let (ok, said) = grant(&app, &email, "admin");
    assert!(ok && said.contains("now holds admin"), "{said}");
    let (ok, said) = grant(&app, &email, "admin");
    assert!(ok && said.contains("already holds admin"), "{said}");
    let (ok, said) = grant(&app, "nobody@example.com", "admin");
    assert!(!ok && said.contains("no account"), "{said}");
    let (ok, said) = grant(&app, &email, "no-such-role");
    assert!(!ok && said.contains("no role"), "{said}");
    let (ok, said) = grant(&app, &email, "Not A Name");
    assert!(!ok && said.contains("not a role name"), "{said}");

    let claims = access_claims(&app, &email).await;
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["roles"], serde_json::json!(["admin", "user"]));
    assert_eq!(
        claims["permissions"],
        serde_json::json!([
            "users:read",
            "users:write",
            "users:disable",
            "sessions:revoke",
            "roles:write",
            "audit:read",
            "agents:manage"
        ])
    );
    assert_eq!(claims["ver"], 2, "granted once, moved on once");
    let granted: i64 = app
        .sql
        .scalar(
            "SELECT count(*) FROM audit_events WHERE event_type = 'role_granted'",
            &[],
        )
        .await;
    assert_eq!(granted, 1);
}

async fn a_grant_makes_earlier_tokens_stale_until_a_refresh(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    assert_eq!(app.me(&app.client).await.status(), 200);

    let (ok, said) = grant(&app, &email, "admin");
    assert!(ok, "{said}");

    // The grant was another process's write.
    within_a_second(|| async { app.me(&app.client).await.status() == 401 }).await;
    let stale = app.me(&app.client).await;
    assert_eq!(stale.status(), 401);
    let challenge = stale.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let body: Value = stale.json().await.unwrap();
    assert_eq!(error_code(&body), "stale_authorization");

    assert_eq!(app.refresh(&app.client).await.status(), 200);
    let me: Value = app.me(&app.client).await.json().await.unwrap();
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["user"]["permissions"].as_array().unwrap().len(), 7);
}

async fn the_bootstrap_admin_is_an_administrator_from_sign_up(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("PORTCULLIS_BOOTSTRAP_ADMIN", "Boss@Example.com")],
    )
    .await;
    let response = app
        .post_json(
            &app.client,
            "/api/auth/signup",
            &serde_json::json!({ "email": "boss@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    let me: Value = app.me(&app.client).await.json().await.unwrap();
    assert_eq!(me["user"]["roles"], serde_json::json!(["admin", "user"]));

    // Anyone else is not.
    let other = app.signup(&app.new_client()).await;
    assert_eq!(access_claims(&app, &other).await["role"], "user");
}

async fn the_bootstrap_admin_is_made_at_start_up_if_the_account_exists(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;
    assert_eq!(access_claims(&app, &email).await["role"], "user");

    // Twice, as two replicas starting would: granted once.
    for _ in 0..2 {
        let replica = ServerProcess::start(
            &app.database.url,
            &[("PORTCULLIS_BOOTSTRAP_ADMIN", email.as_str())],
        );
        drop(replica);
    }
    assert_eq!(access_claims(&app, &email).await["role"], "admin");
    let granted: i64 = app
        .sql
        .scalar(
            "SELECT count(*) FROM audit_events WHERE event_type = 'role_granted'",
            &[],
        )
        .await;
    assert_eq!(granted, 1);
}

/// Once there is an enabled administrator, the bootstrap setting grants
/// nothing: a demotion stands across restarts, and a later sign-up with the
/// address is an ordinary account.
async fn the_bootstrap_setting_stands_aside_once_someone_administers(backend: Backend) {
    let app = spawn_app(backend).await;
    let boss = app.signup(&app.new_client()).await;
    let other = app.signup(&app.new_client()).await;
    let (ok, said) = grant(&app, &other, "admin");
    assert!(ok, "{said}");

    let replica = ServerProcess::start(
        &app.database.url,
        &[("PORTCULLIS_BOOTSTRAP_ADMIN", boss.as_str())],
    );
    drop(replica);
    assert_eq!(access_claims(&app, &boss).await["role"], "user");

    let late = spawn_app_with(
        backend,
        &[("PORTCULLIS_BOOTSTRAP_ADMIN", "late@example.com")],
    )
    .await;
    let first = late.signup(&late.new_client()).await;
    let (ok, said) = grant(&late, &first, "admin");
    assert!(ok, "{said}");
    let response = late
        .post_json(
            &late.new_client(),
            "/api/auth/signup",
            &serde_json::json!({ "email": "late@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["role"], "user");
}

/// Requests take the token's roles and permissions once its version is the
/// user's, so only that version will do: one the user no longer has (a
/// database restored from a backup, say) is stale too.
async fn a_token_is_current_only_at_the_users_own_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    assert_eq!(app.me(&app.client).await.status(), 200);

    app.sql
        .execute(&format!(
            "UPDATE users SET authz_version = 0 WHERE email = '{email}'"
        ))
        .await
        .unwrap();
    within_a_second(|| async { app.me(&app.client).await.status() == 401 }).await;
    let stale: Value = app.me(&app.client).await.json().await.unwrap();
    assert_eq!(error_code(&stale), "stale_authorization");
    assert_eq!(app.refresh(&app.client).await.status(), 200);
    assert_eq!(app.me(&app.client).await.status(), 200);
}
