//! The JSON auth API, end to end over HTTP, on both databases.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    cookie_value, set_cookie, set_cookies, spawn_app, spawn_app_with, Backend, TestApp,
    GOOD_PASSWORD, TEST_JWT_SECRET,
};
use crate::on_both_backends;

const ACCESS: &str = "portcullis_access";
const REFRESH: &str = "portcullis_refresh";

on_both_backends!(
    signup_signs_the_new_user_in,
    signup_refuses_a_taken_email_in_any_case,
    signup_explains_refused_input,
    twenty_concurrent_signups_create_one_user,
    login_sets_http_only_cookies_and_reports_expiry,
    unknown_email_and_wrong_password_get_identical_401s,
    refresh_rotates_the_token,
    replay_after_the_grace_window_revokes_the_session,
    two_tabs_refreshing_at_once_stay_signed_in,
    a_refresh_abandoned_by_its_client_leaves_the_database_working,
    refresh_without_a_valid_token_is_401_and_clears_cookies,
    sessions_end_when_the_family_expires,
    access_tokens_expire,
    forged_and_foreign_access_tokens_are_refused,
    logout_revokes_the_session_and_is_idempotent,
    bearer_transport_works_end_to_end,
    cross_site_requests_with_cookies_are_refused,
    malformed_requests_get_clear_4xx_answers,
    password_change_needs_the_current_password_and_ends_other_sessions,
    display_name_can_be_changed,
    a_login_flood_gets_503_with_retry_after,
    audit_log_records_events_without_secrets,
);

fn error_code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

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
    assert_eq!(
        keys.len(),
        5,
        "exactly id, email, display_name, role, created_at: {keys:?}"
    );
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

async fn access_tokens_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;
    assert_eq!(app.me(&app.client).await.status(), 200);

    app.clock.advance(Duration::from_secs(15 * 60 + 31));

    assert_eq!(app.me(&app.client).await.status(), 401);
    // A refresh brings the session back.
    assert_eq!(app.refresh(&app.client).await.status(), 200);
    assert_eq!(app.me(&app.client).await.status(), 200);
}

async fn forged_and_foreign_access_tokens_are_refused(backend: Backend) {
    use jsonwebtoken::{decode_header, encode, EncodingKey, Header};
    let app = spawn_app(backend).await;
    let response = app
        .post_json(
            &app.client,
            "/api/auth/login",
            &json!({ "email": app.signup(&app.new_client()).await, "password": GOOD_PASSWORD, "transport": "bearer" }),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let valid = body["access_token"].as_str().unwrap().to_owned();
    let claims: Value = {
        use base64::Engine;
        let payload = valid.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    // Tokens name their key; a forgery names the same one.
    let header = Header {
        kid: decode_header(&valid).unwrap().kid,
        ..Header::default()
    };
    assert!(header.kid.is_some());
    let sign = |claims: &Value| {
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        sign(&c)
    };
    let now = chrono::Utc::now().timestamp();
    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let alg_none = {
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({ "alg": "none", "typ": "JWT" })),
            b64(&claims)
        )
    };
    let other_key = encode(
        &header,
        &claims,
        &EncodingKey::from_secret(b"another-secret-another-secret-32b"),
    )
    .unwrap();
    let no_kid = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .unwrap();

    let bearer = |t: String| {
        let client = app.new_client();
        let url = app.url("/api/auth/me");
        async move {
            client
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(bearer(valid.clone()).await, 200, "the genuine token works");
    assert_eq!(
        bearer(sign(&claims)).await,
        200,
        "re-signing with the right key works"
    );
    for (name, token) in [
        ("tampered signature", tampered),
        ("alg none", alg_none),
        ("other key", other_key),
        ("no key id", no_kid),
        ("wrong audience", with("aud", json!("someone-else"))),
        ("wrong issuer", with("iss", json!("http://evil.example"))),
        ("expired", with("exp", json!(now - 120))),
        ("no subject", {
            let mut c = claims.clone();
            c.as_object_mut().unwrap().remove("sub");
            sign(&c)
        }),
        ("wrong type", with("typ", json!("refresh"))),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        assert_eq!(bearer(token).await, 401, "{name}");
    }
}

async fn logout_revokes_the_session_and_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let refresh_token = app.signup_for_refresh_token(&app.client).await;

    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    let access = set_cookie(&response, ACCESS).unwrap();
    let refresh = set_cookie(&response, REFRESH).unwrap();
    assert!(access.contains("Max-Age=0") && access.contains("Path=/"));
    assert!(refresh.contains("Max-Age=0") && refresh.contains("Path=/api/auth"));
    assert_eq!(app.me(&app.client).await.status(), 401);
    let reuse = app
        .post_json(
            &app.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await;
    assert_eq!(
        reuse.status(),
        401,
        "the refresh token died with the session"
    );
    for client in [app.client.clone(), app.new_client()] {
        let again = client
            .post(app.url("/api/auth/logout"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 204);
    }
}

async fn bearer_transport_works_end_to_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;
    let client = app.new_client();

    let login = app
        .post_json(
            &client,
            "/api/auth/login",
            &json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }),
        )
        .await;
    assert_eq!(login.status(), 200);
    assert!(
        set_cookies(&login).is_empty(),
        "bearer transport sets no cookies"
    );
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    let me = client
        .get(app.url("/api/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let refreshed = app
        .post_json(
            &client,
            "/api/auth/refresh",
            &json!({ "refresh_token": refresh, "transport": "bearer" }),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    assert!(set_cookies(&refreshed).is_empty());
    let body: Value = refreshed.json().await.unwrap();
    let new_access = body["access_token"].as_str().unwrap();
    assert_ne!(body["refresh_token"].as_str().unwrap(), refresh);

    // Bearer calls are not subject to the browser CSRF rule.
    let profile = client
        .put(app.url("/api/auth/profile"))
        .bearer_auth(new_access)
        .header("origin", "https://elsewhere.example")
        .json(&json!({ "display_name": "Via Bearer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
}

async fn cross_site_requests_with_cookies_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;
    // A cookie-authenticated profile change carrying these request headers.
    let rename = |headers: &'static [(&'static str, &'static str)], name: &'static str| {
        let mut request = app.client.put(app.url("/api/auth/profile"));
        for (header, value) in headers {
            request = request.header(*header, *value);
        }
        async move {
            request
                .json(&json!({ "display_name": name }))
                .send()
                .await
                .unwrap()
        }
    };

    let foreign_origin = rename(&[("origin", "https://evil.example")], "Hacked").await;
    let cross_site = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    let same_origin = app
        .client
        .put(app.url("/api/auth/profile"))
        .header("origin", app.address.as_str())
        .header("sec-fetch-site", "same-origin")
        .json(&json!({ "display_name": "Legit" }))
        .send()
        .await
        .unwrap();
    let null_origin_alone = rename(&[("origin", "null")], "Hacked").await;
    let sibling_subdomain = rename(&[("sec-fetch-site", "same-site")], "Hacked").await;
    // What a browser sends for its own form post under no-referrer.
    let own_form_post = rename(
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        "Own Form",
    )
    .await;
    assert_eq!(own_form_post.status(), 200);

    for response in [
        foreign_origin,
        cross_site,
        null_origin_alone,
        sibling_subdomain,
    ] {
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "csrf");
    }
    assert_eq!(same_origin.status(), 200);
    // The last accepted change stands; none of the refused ones applied.
    let me: Value = app.me(&app.client).await.json().await.unwrap();
    assert_eq!(me["user"]["display_name"], "Own Form");
}

async fn malformed_requests_get_clear_4xx_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/api/auth/signup");
    let client = app.new_client();

    let too_large = client
        .post(&url)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"email":"a@example.com","password":"{}"}}"#,
            "x".repeat(70 * 1024)
        ))
        .send()
        .await
        .unwrap();
    let wrong_type = client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let no_type = client
        .post(&url)
        .body(r#"{"email":"a@example.com"}"#)
        .send()
        .await
        .unwrap();
    let malformed = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let unknown_field = app
        .post_json(
            &client,
            "/api/auth/signup",
            &json!({ "email": "a@example.com", "password": GOOD_PASSWORD, "admin": true }),
        )
        .await;
    let wrong_shape = app
        .post_json(
            &client,
            "/api/auth/login",
            &json!({ "email": 5, "password": [] }),
        )
        .await;

    for (response, status, code) in [
        (too_large, 413, "payload_too_large"),
        (wrong_type, 415, "unsupported_media_type"),
        (no_type, 415, "unsupported_media_type"),
        (malformed, 400, "malformed_json"),
        (unknown_field, 400, "malformed_json"),
        (wrong_shape, 400, "malformed_json"),
    ] {
        assert_eq!(response.status(), status, "{code}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), code);
        assert!(body["request_id"].is_string());
    }
}

async fn password_change_needs_the_current_password_and_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    let other_device = app.new_client();
    assert_eq!(
        app.login(&other_device, &email, GOOD_PASSWORD)
            .await
            .status(),
        200
    );
    let new_password = "quarry-lantern-mosaic-77";

    let wrong = app
        .client
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "current_password": "not-my-password-1", "new_password": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(error_code(&body), "invalid_credentials");
    let missing = app
        .client
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "new_password": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);

    let changed = app
        .client
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "current_password": GOOD_PASSWORD, "new_password": new_password }))
        .send()
        .await
        .unwrap();

    assert_eq!(changed.status(), 200);
    assert_eq!(
        app.refresh(&other_device).await.status(),
        401,
        "the other session ended"
    );
    assert_eq!(
        app.refresh(&app.client).await.status(),
        200,
        "this session goes on"
    );
    assert_eq!(
        app.login(&app.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login(&app.new_client(), &email, new_password)
            .await
            .status(),
        200
    );
}

async fn display_name_can_be_changed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;

    let response = app
        .client
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "display_name": "  Grace Hopper " }))
        .send()
        .await
        .unwrap();
    let invalid = app
        .client
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "display_name": "" }))
        .send()
        .await
        .unwrap();
    let anonymous = app
        .new_client()
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "display_name": "Nobody" }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["display_name"], "Grace Hopper");
    assert_eq!(invalid.status(), 400);
    assert_eq!(anonymous.status(), 401);
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
    let email = app.signup(&app.new_client()).await;

    let attempts = (0..12).map(|_| {
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

async fn audit_log_records_events_without_secrets(backend: Backend) {
    let app: TestApp = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    app.login(&app.new_client(), &email, "wrong-password-123")
        .await;
    app.refresh(&app.client).await;
    app.client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();

    let events: Vec<(String, String, String)> = app
        .sql
        .rows("SELECT event_type, outcome, COALESCE(ip, '') FROM audit_events ORDER BY id")
        .await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|(e, o, _)| (e.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("signup", "success"),
            ("login", "failure"),
            ("refresh", "success"),
            ("logout", "success")
        ]
    );
    assert!(events.iter().all(|(_, _, ip)| ip == "127.0.0.1"));
    let everything: Vec<String> = app
        .sql
        .column("SELECT event_type || ' ' || details FROM audit_events")
        .await;
    let text = everything.join("\n");
    assert!(
        !text.contains(GOOD_PASSWORD)
            && !text.contains("wrong-password")
            && !text.contains("argon2")
    );
}

on_both_backends!(
    secure_cookies_carry_host_and_secure_prefixes,
    raised_hashing_parameters_upgrade_the_hash_at_login
);

async fn secure_cookies_carry_host_and_secure_prefixes(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_COOKIE_SECURE", "true")]).await;

    let response = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": "secure@example.com", "password": GOOD_PASSWORD }),
        )
        .await;

    assert_eq!(response.status(), 201);
    let access = set_cookie(&response, "__Host-portcullis_access").unwrap();
    let refresh = set_cookie(&response, "__Secure-portcullis_refresh").unwrap();
    assert!(access.contains("Secure") && access.contains("Path=/") && !access.contains("Domain"));
    assert!(refresh.contains("Secure") && refresh.contains("Path=/api/auth"));
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
