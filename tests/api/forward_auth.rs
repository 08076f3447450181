//! Forward-auth for the proxies in front of other services: nginx
//! `auth_request`, Traefik/Caddy and Envoy, their answers, the operator's
//! rules, revocation, and the assertion header.

use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    cookie_value, error_code, jwt_claims, set_cookie, spawn_app_with, within_a_second, Backend,
    TestApp, ACCESS, GOOD_PASSWORD,
};
use crate::on_both_backends;

on_both_backends!(
    nginx_gets_401_with_the_way_to_sign_in_and_200_with_who_passed,
    traefik_sends_browsers_to_sign_in_and_tells_api_clients_401,
    envoy_asks_with_the_held_method_and_path,
    rules_decide_by_host_path_method_role_and_permission,
    signing_out_or_a_revocation_elsewhere_closes_the_gate_within_a_second,
    attributes_travel_as_headers,
);

const RETURN_HOSTS: &str = "app.example.com, .example.org";
const ADMIN: &str = "gate-admin@example.com";

async fn gateway(backend: Backend, more: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTCULLIS_ALLOWED_RETURN_HOSTS", RETURN_HOSTS),
        ("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN),
    ];
    settings.extend_from_slice(more);
    spawn_app_with(backend, &settings).await
}

/// What nginx sends for the held request `method url`, with `auth` (a
/// bearer token) if any.
async fn ask_nginx(
    app: &TestApp,
    query: &str,
    method: &str,
    url: &str,
    auth: Option<&str>,
) -> reqwest::Response {
    let mut request = Client::new()
        .get(app.url(&format!("/api/authz/auth-request{query}")))
        .header("x-original-method", method)
        .header("x-original-url", url);
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn header_text(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn nginx_gets_401_with_the_way_to_sign_in_and_200_with_who_passed(backend: Backend) {
    let app = gateway(backend, &[]).await;
    let held = "https://app.example.com/reports?year=2026&x=a b";

    let refused = ask_nginx(&app, "", "GET", held, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(header_text(&refused, "www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    let location = header_text(&refused, "location").unwrap();
    assert_eq!(
        location,
        app.url("/login?rd=https%3A//app.example.com/reports%3Fyear%3D2026%26x%3Da%2520b")
    );

    // Signed in by cookie (a browser) and by bearer token (a client).
    let browser = app.new_client();
    let email = app.signup(&browser).await;
    let by_cookie = browser
        .get(app.url("/api/authz/auth-request"))
        .header("x-original-method", "GET")
        .header("x-original-url", held)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    assert_eq!(
        header_text(&by_cookie, "x-auth-request-email").unwrap(),
        email
    );
    assert_eq!(header_text(&by_cookie, "remote-email").unwrap(), email);
    assert_eq!(
        header_text(&by_cookie, "x-auth-request-groups").unwrap(),
        "user"
    );
    assert_eq!(header_text(&by_cookie, "remote-groups").unwrap(), "user");
    let user_id = header_text(&by_cookie, "x-auth-request-user").unwrap();
    assert_eq!(header_text(&by_cookie, "remote-user").unwrap(), user_id);

    let session = app.bearer_login(&email).await;
    let by_bearer = ask_nginx(&app, "", "GET", held, Some(&session.access)).await;
    assert_eq!(by_bearer.status(), StatusCode::OK);
    assert_eq!(
        header_text(&by_bearer, "x-auth-request-user").unwrap(),
        user_id
    );

    // The assertion: signed like access tokens, for this host, short.
    let assertion = header_text(&by_bearer, "x-portcullis-assertion").unwrap();
    let claims = jwt_claims(&assertion);
    assert_eq!(claims["aud"], "app.example.com");
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["iss"], app.address.as_str());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=60).contains(&lifetime), "{lifetime}");
    let header = jwt_header(&assertion);
    assert_eq!(header["typ"], "portcullis-assertion+jwt");
    // Services check it with portcullis-verify, for their own host only.
    let checker = portcullis_verify::Verifier::new(
        app.address.as_str(),
        "portcullis",
        portcullis_verify::Keys::hs256([crate::helpers::TEST_JWT_SECRET.as_bytes()]),
    );
    let now = std::time::SystemTime::now();
    let checked = checker
        .verify_assertion(&assertion, "app.example.com", now)
        .unwrap();
    assert_eq!(checked.email, email);
    assert!(checker
        .verify_assertion(&assertion, "other.example.com", now)
        .is_err());
    assert!(checker.verify(&assertion, now).is_err());
    // An assertion is no access token: the API refuses it.
    let me = app
        .with_bearer(Method::GET, "/api/auth/me", &assertion)
        .await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // A held request for a host no rule covers is refused, signed in or not;
    // so is a path that reads two ways.
    for url in [
        "https://evil.com/",
        "https://app.example.com.evil.com/",
        "https://app.example.com/public/..%2fadmin",
        "https://app.example.com/public/..;/admin",
        "https://app.example.com//x",
        "https://app.example.com/x#y",
    ] {
        let response = ask_nginx(&app, "", "GET", url, Some(&session.access)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
    }
    // The same host with DNS's trailing dot is the same host.
    let dotted = ask_nginx(
        &app,
        "",
        "GET",
        "https://app.example.com./",
        Some(&session.access),
    )
    .await;
    assert_eq!(dotted.status(), StatusCode::OK);
    // A bearer token of the service's own does not hide the visitor's cookie.
    let masked = browser
        .get(app.url("/api/authz/auth-request"))
        .bearer_auth("the-service's-own-token")
        .header("x-original-method", "GET")
        .header("x-original-url", held)
        .send()
        .await
        .unwrap();
    assert_eq!(masked.status(), StatusCode::OK);
    // Sign-in sends no one back to a host it may not return to, but the
    // domain's hosts are fine.
    let other = ask_nginx(&app, "", "GET", "https://b.example.org/x", None).await;
    assert_eq!(
        header_text(&other, "location").unwrap(),
        app.url("/login?rd=https%3A//b.example.org/x")
    );
}

fn jwt_header(jwt: &str) -> Value {
    use base64::Engine;
    let head = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn ask_traefik(app: &TestApp, accept: &str, auth: Option<&str>) -> reqwest::Response {
    let mut request = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/api/authz/forward-auth"))
        .header(header::ACCEPT, accept)
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-uri", "/dashboard?tab=1");
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn traefik_sends_browsers_to_sign_in_and_tells_api_clients_401(backend: Backend) {
    let app = gateway(backend, &[]).await;
    let browser = ask_traefik(&app, "text/html,application/xhtml+xml", None).await;
    assert_eq!(browser.status(), StatusCode::FOUND);
    assert_eq!(
        header_text(&browser, "location").unwrap(),
        app.url("/login?rd=https%3A//app.example.com/dashboard%3Ftab%3D1")
    );
    let api = ask_traefik(&app, "application/json", None).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert!(header_text(&api, "www-authenticate").is_some());

    let session = app.bearer_session().await;
    let passed = ask_traefik(&app, "text/html", Some(&session.access)).await;
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(
        header_text(&passed, "x-auth-request-email").unwrap(),
        session.email
    );

    // Without the headers, or from a peer that is not a trusted proxy,
    // there is no held request to decide on.
    let bare = Client::new()
        .get(app.url("/api/authz/forward-auth"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
    let body: Value = bare.json().await.unwrap();
    assert_eq!(error_code(&body), "invalid_forwarded_request");

    let untrusting = spawn_app_with(
        backend,
        &[("PORTCULLIS_ALLOWED_RETURN_HOSTS", RETURN_HOSTS)],
    )
    .await;
    let session = untrusting.bearer_session().await;
    let refused = ask_traefik(&untrusting, "text/html", Some(&session.access)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

async fn envoy_asks_with_the_held_method_and_path(backend: Backend) {
    let app = gateway(backend, &[]).await;
    let session = app.bearer_session().await;
    let ask = |method: Method, token: Option<&str>, accept: &str| {
        let mut request = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(method, app.url("/api/authz/envoy/orders/7?expand=1"))
            .header(header::HOST, "app.example.com")
            .header("x-forwarded-proto", "https")
            .header(header::ACCEPT, accept)
            // What the held request's browser sent: no forgery check here.
            .header(header::ORIGIN, "https://app.example.com")
            .header("sec-fetch-site", "same-origin");
        if let Some(token) = token {
            request = request.bearer_auth(token.to_owned());
        }
        request.send()
    };
    let passed = ask(Method::DELETE, Some(&session.access), "*/*")
        .await
        .unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(
        header_text(&passed, "x-auth-request-email").unwrap(),
        session.email
    );
    let browser = ask(Method::GET, None, "text/html").await.unwrap();
    assert_eq!(browser.status(), StatusCode::FOUND);
    assert_eq!(
        header_text(&browser, "location").unwrap(),
        app.url("/login?rd=https%3A//app.example.com/orders/7%3Fexpand%3D1")
    );
    let api = ask(Method::POST, None, "application/json").await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
}

const RULES: &str = r#"
[[rule]]
host = "app.example.com"
path = "/admin"
allow = "role:admin"

[[rule]]
host = "app.example.com"
path = "/audit"
methods = ["DELETE"]
allow = "permission:audit:read"

[[rule]]
host = "app.example.com"
path = "/static"
allow = "anyone"

[[rule]]
host = "app.example.com"
path = "/closed"
allow = "nobody"

[[rule]]
host = ".example.org"
allow = "signed-in"
"#;

async fn rules_decide_by_host_path_method_role_and_permission(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, RULES).unwrap();
    let app = gateway(
        backend,
        &[("PORTCULLIS_ACCESS_RULES", file.to_str().unwrap())],
    )
    .await;
    let user = app.bearer_session().await;
    let admin_signup = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": ADMIN, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(admin_signup.status(), StatusCode::CREATED);
    let admin = app.bearer_login(ADMIN).await;

    let cases: &[(&str, &str, &str, Option<&str>, StatusCode)] = &[
        (
            "",
            "GET",
            "https://app.example.com/admin/x",
            Some(&user.access),
            StatusCode::FORBIDDEN,
        ),
        (
            "",
            "GET",
            "https://app.example.com/admin/x",
            Some(&admin.access),
            StatusCode::OK,
        ),
        (
            "",
            "GET",
            "https://app.example.com/admin",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "",
            "GET",
            "https://app.example.com/audit",
            Some(&user.access),
            StatusCode::FORBIDDEN,
        ),
        (
            "",
            "DELETE",
            "https://app.example.com/audit/1",
            Some(&user.access),
            StatusCode::FORBIDDEN,
        ),
        (
            "",
            "DELETE",
            "https://app.example.com/audit/1",
            Some(&admin.access),
            StatusCode::OK,
        ),
        (
            "",
            "GET",
            "https://app.example.com/static/app.css",
            None,
            StatusCode::OK,
        ),
        (
            "",
            "GET",
            "https://app.example.com/closed",
            Some(&admin.access),
            StatusCode::FORBIDDEN,
        ),
        (
            "",
            "GET",
            "https://x.example.org/",
            Some(&user.access),
            StatusCode::OK,
        ),
        (
            "",
            "GET",
            "https://x.example.org/",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // The rules name no other path on app.example.com.
        (
            "",
            "GET",
            "https://app.example.com/",
            Some(&admin.access),
            StatusCode::FORBIDDEN,
        ),
        // Per-route requirements on the auth URL add to the rules.
        (
            "?role=admin",
            "GET",
            "https://x.example.org/",
            Some(&user.access),
            StatusCode::FORBIDDEN,
        ),
        (
            "?role=admin",
            "GET",
            "https://x.example.org/",
            Some(&admin.access),
            StatusCode::OK,
        ),
        (
            "?permission=users:read",
            "GET",
            "https://x.example.org/",
            Some(&user.access),
            StatusCode::FORBIDDEN,
        ),
        (
            "?permission=users:read",
            "GET",
            "https://x.example.org/",
            Some(&admin.access),
            StatusCode::OK,
        ),
        (
            "?role=admin",
            "GET",
            "https://app.example.com/static/x",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // A misspelt requirement protects nothing less: it is refused.
        (
            "?rol=admin",
            "GET",
            "https://x.example.org/",
            Some(&admin.access),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (query, method, url, token, expected) in cases {
        let response = ask_nginx(&app, query, method, url, *token).await;
        assert_eq!(
            response.status(),
            *expected,
            "{query} {method} {url} {token:?}"
        );
    }
    // Anyone may pass an open rule; a signed-in caller still gets named.
    let open = ask_nginx(
        &app,
        "",
        "GET",
        "https://app.example.com/static/x",
        Some(&user.access),
    )
    .await;
    assert_eq!(
        header_text(&open, "x-auth-request-email").unwrap(),
        user.email
    );
    let anonymous = ask_nginx(&app, "", "GET", "https://app.example.com/static/x", None).await;
    assert!(header_text(&anonymous, "x-auth-request-user").is_none());
}

async fn signing_out_or_a_revocation_elsewhere_closes_the_gate_within_a_second(backend: Backend) {
    let app = gateway(backend, &[]).await;
    let held = "https://app.example.com/";
    let ask_with_cookie = |cookie: String| {
        Client::new()
            .get(app.url("/api/authz/auth-request"))
            .header(header::COOKIE, cookie)
            .header("x-original-method", "GET")
            .header("x-original-url", held)
            .send()
    };
    // A browser signs up, and keeps its access cookie after signing out:
    // the gate must not trust it then.
    let browser = app.new_client();
    let email = format!("gate-{}@example.com", uuid::Uuid::new_v4().simple());
    let signed_up = app
        .post_json(
            &browser,
            "/api/auth/signup",
            &json!({ "email": email, "password": GOOD_PASSWORD }),
        )
        .await;
    let cookie = format!(
        "{ACCESS}={}",
        cookie_value(&set_cookie(&signed_up, ACCESS).unwrap())
    );
    let passed = ask_with_cookie(cookie.clone()).await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    let logout = browser
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success());
    let replayed = ask_with_cookie(cookie).await.unwrap();
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);

    // Revoked by another writer (another replica): refused within 1 s.
    let session = app.bearer_session().await;
    let status = || async {
        ask_nginx(&app, "", "GET", held, Some(&session.access))
            .await
            .status()
    };
    assert_eq!(status().await, StatusCode::OK);
    let revoked = app
        .sql
        .execute(&format!(
            "UPDATE sessions SET revoked_at = created_at WHERE user_id = \
             (SELECT id FROM users WHERE email = '{}')",
            session.email
        ))
        .await
        .unwrap();
    assert_eq!(revoked, 2, "the sign-up's session and the sign-in's");
    within_a_second(|| async { status().await == StatusCode::UNAUTHORIZED }).await;

    // Disabled by another writer: the same.
    let other = app.bearer_session().await;
    assert_eq!(
        ask_nginx(&app, "", "GET", held, Some(&other.access))
            .await
            .status(),
        StatusCode::OK
    );
    let disabled = app
        .sql
        .execute(&format!(
            "UPDATE users SET disabled = (1 = 1) WHERE email = '{}'",
            other.email
        ))
        .await
        .unwrap();
    assert_eq!(disabled, 1);
    within_a_second(|| async {
        ask_nginx(&app, "", "GET", held, Some(&other.access))
            .await
            .status()
            == StatusCode::UNAUTHORIZED
    })
    .await;
}

/// With the sessions and users tables locked against every reader, a
/// session the server knows still passes the gate at once: forward-auth
/// reads no database for it.
#[tokio::test]
async fn a_known_session_passes_without_reading_the_database() {
    use sqlx::{Connection, Executor, PgConnection};

    let app = gateway(Backend::Postgres, &[]).await;
    let session = app.bearer_session().await;
    let held = "https://app.example.com/";
    for _ in 0..2 {
        let passed = ask_nginx(&app, "", "GET", held, Some(&session.access)).await;
        assert_eq!(passed.status(), StatusCode::OK);
    }
    let mut locker = PgConnection::connect(&app.database.url).await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE sessions, users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let passed = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        ask_nginx(&app, "", "GET", held, Some(&session.access)),
    )
    .await
    .expect("answered while the tables are locked");
    assert_eq!(passed.status(), StatusCode::OK);
    locker.execute("ROLLBACK").await.unwrap();
}

async fn attributes_travel_as_headers(backend: Backend) {
    let app = gateway(backend, &[]).await;
    let email = app.signup(&app.new_client()).await;
    app.sql
        .execute(&format!(
            "UPDATE users SET attributes = '{{\"team_id\":\"t-7\",\"city\":\"Zoë\"}}' \
             WHERE email = '{email}'"
        ))
        .await
        .unwrap();
    let session = app.bearer_login(&email).await;
    let passed = ask_nginx(
        &app,
        "",
        "GET",
        "https://app.example.com/",
        Some(&session.access),
    )
    .await;
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(
        header_text(&passed, "x-auth-request-attr-team_id").unwrap(),
        "t-7"
    );
    assert_eq!(
        header_text(&passed, "x-auth-request-attr-city").unwrap(),
        "Zo%C3%AB"
    );
    // The assertion carries them too, for services that trust only it.
    let claims = jwt_claims(&header_text(&passed, "x-portcullis-assertion").unwrap());
    assert_eq!(claims["attrs"]["team_id"], "t-7");
    assert_eq!(claims["attrs"]["city"], "Zoë");
}

/// An assertion is reused for the same session and host, and made anew
/// when the user's roles change: never a stale identity.
#[tokio::test]
async fn a_role_change_makes_a_fresh_assertion() {
    let app = gateway(Backend::Sqlite, &[]).await;
    let admin_signup = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": ADMIN, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(admin_signup.status(), StatusCode::CREATED);
    let admin = app.bearer_login(ADMIN).await;
    let user = app.bearer_session().await;
    let held = "https://app.example.com/";
    let assertion = |token: String| {
        let app = &app;
        async move {
            let passed = ask_nginx(app, "", "GET", held, Some(&token)).await;
            assert_eq!(passed.status(), StatusCode::OK);
            header_text(&passed, "x-portcullis-assertion").unwrap()
        }
    };
    let first = assertion(user.access.clone()).await;
    assert_eq!(assertion(user.access.clone()).await, first, "reused");
    assert_eq!(jwt_claims(&first)["roles"], json!(["user"]));

    let me: Value = Client::new()
        .get(app.url("/api/auth/me"))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["user"]["id"].as_str().unwrap().to_owned();
    let http = Client::new();
    let created = http
        .post(app.url("/api/admin/roles"))
        .bearer_auth(&admin.access)
        .json(&json!({ "name": "support", "permissions": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let granted = http
        .patch(app.url(&format!("/api/admin/users/{id}")))
        .bearer_auth(&admin.access)
        .json(&json!({ "roles": ["support"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    // The old token is stale now; the refreshed one (same session) gets an
    // assertion that says the new role.
    let stale = ask_nginx(&app, "", "GET", held, Some(&user.access)).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let refreshed: Value = app
        .bearer_refresh(&user.refresh)
        .await
        .json()
        .await
        .unwrap();
    let fresh = assertion(refreshed["access_token"].as_str().unwrap().to_owned()).await;
    assert_ne!(fresh, first);
    assert_eq!(jwt_claims(&fresh)["roles"], json!(["support", "user"]));
}
