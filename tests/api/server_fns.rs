//! The web app's server functions: same rules, same cookies, no tokens in
//! their bodies.

use serde_json::Value;

use crate::helpers::{cookie_value, set_cookie, spawn_app, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    ui_signup_and_login_set_cookies_and_return_only_the_user,
    ui_login_failures_carry_the_api_status_and_message,
    ui_current_user_follows_the_session,
    ui_refresh_rotates_and_logout_clears,
    ui_profile_update_changes_the_name_and_needs_the_current_password,
);

async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(&format!("/api/auth/ui/{name}")))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn ui_signup_and_login_set_cookies_and_return_only_the_user(backend: Backend) {
    let app = spawn_app(backend).await;

    let signup = call(
        &app,
        &app.client,
        "signup",
        &[
            ("email", "ui@example.com"),
            ("password", GOOD_PASSWORD),
            ("display_name", "Ui User"),
        ],
    )
    .await;

    assert_eq!(signup.status(), 200);
    assert_eq!(signup.headers()["cache-control"], "no-store");
    let access = set_cookie(&signup, "portcullis_access").unwrap();
    let refresh = set_cookie(&signup, "portcullis_refresh").unwrap();
    assert!(access.contains("HttpOnly") && refresh.contains("Path=/api/auth"));
    let text = signup.text().await.unwrap();
    assert!(!text.contains(&cookie_value(&access)) && !text.contains(&cookie_value(&refresh)));
    let user: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(user["email"], "ui@example.com");
    assert_eq!(user["display_name"], "Ui User");

    let other = app.new_client();
    let login = call(
        &app,
        &other,
        "login",
        &[("email", "UI@example.com"), ("password", GOOD_PASSWORD)],
    )
    .await;
    assert_eq!(login.status(), 200);
    let access = set_cookie(&login, "portcullis_access").unwrap();
    let body = login.text().await.unwrap();
    assert!(!body.contains(&cookie_value(&access)));
    assert_eq!(
        app.me(&other).await.status(),
        200,
        "the JSON API accepts the UI's cookies"
    );
}

async fn ui_login_failures_carry_the_api_status_and_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;

    let wrong = call(
        &app,
        &app.new_client(),
        "login",
        &[("email", &email), ("password", "wrong-password-123")],
    )
    .await;
    let taken = call(
        &app,
        &app.new_client(),
        "signup",
        &[("email", &email), ("password", GOOD_PASSWORD)],
    )
    .await;
    let weak = call(
        &app,
        &app.new_client(),
        "signup",
        &[("email", "new@example.com"), ("password", "password1234")],
    )
    .await;

    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["Refused"]["code"], "invalid_credentials");
    assert_eq!(taken.status(), 409);
    let body: Value = taken.json().await.unwrap();
    assert_eq!(body["Refused"]["code"], "email_taken");
    assert_eq!(weak.status(), 400);
    let body: Value = weak.json().await.unwrap();
    assert_eq!(body["Refused"]["code"], "password_too_weak");
    assert!(body["Refused"]["message"]
        .as_str()
        .unwrap()
        .contains("too easy to guess"));
}

async fn ui_current_user_follows_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = |client: reqwest::Client| {
        let url = app.url("/api/auth/ui/me");
        async move {
            let r = client
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };

    assert_eq!(me(app.client.clone()).await, Value::Null);
    let email = app.signup(&app.client).await;
    let session = me(app.client.clone()).await;
    assert_eq!(session["user"]["email"], email.as_str());
    assert!(session["access_expires_in_secs"].as_i64().unwrap() > 800);
    assert!(session["session_expires_at"].is_string());

    // A revoked session reads as signed out, though its access token lives on.
    let login: Value = app
        .post_json(
            &app.new_client(),
            "/api/auth/login",
            &serde_json::json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let bearer_session = || async {
        let r = app
            .new_client()
            .get(app.url("/api/auth/ui/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
    assert_eq!(bearer_session().await["user"]["email"], email.as_str());
    let logout = app
        .new_client()
        .post(app.url("/api/auth/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(bearer_session().await, Value::Null);
}

async fn ui_refresh_rotates_and_logout_clears(backend: Backend) {
    let app = spawn_app(backend).await;
    let signup = call(
        &app,
        &app.client,
        "signup",
        &[("email", "r-ui@example.com"), ("password", GOOD_PASSWORD)],
    )
    .await;
    let first = cookie_value(&set_cookie(&signup, "portcullis_refresh").unwrap());

    let refreshed = call(&app, &app.client, "refresh", &[]).await;
    assert_eq!(refreshed.status(), 200);
    let second = cookie_value(&set_cookie(&refreshed, "portcullis_refresh").unwrap());
    assert_ne!(first, second);
    let body: Value = refreshed.json().await.unwrap();
    assert!(body["access_expires_at"].is_string());
    assert!(body.get("access_token").is_none());

    let logout = call(&app, &app.client, "logout", &[]).await;
    assert_eq!(logout.status(), 200);
    assert!(set_cookie(&logout, "portcullis_access")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(set_cookie(&logout, "portcullis_refresh")
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(app.me(&app.client).await.status(), 401);

    let after = call(&app, &app.client, "refresh", &[]).await;
    assert_eq!(after.status(), 401);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["Refused"]["code"], "unauthenticated");
}

async fn ui_profile_update_changes_the_name_and_needs_the_current_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;

    let renamed = call(
        &app,
        &app.client,
        "profile",
        &[("display_name", "New Name")],
    )
    .await;
    let wrong = call(
        &app,
        &app.client,
        "profile",
        &[
            ("current_password", "not-it-at-all-1"),
            ("new_password", "quarry-lantern-mosaic-77"),
        ],
    )
    .await;
    let anonymous = call(&app, &app.new_client(), "profile", &[("display_name", "X")]).await;

    assert_eq!(renamed.status(), 200);
    let body: Value = renamed.json().await.unwrap();
    assert_eq!(body["display_name"], "New Name");
    assert_eq!(wrong.status(), 403);
    assert_eq!(anonymous.status(), 401);
}

on_both_backends!(ui_session_read_changes_nothing_and_a_post_renews);

/// GET never changes state: reading the session with only a refresh
/// cookie (the access cookie lapsed) renews nothing; the app renews with
/// a POST and reads again.
async fn ui_session_read_changes_nothing_and_a_post_renews(backend: Backend) {
    let app = spawn_app(backend).await;
    let signup = call(
        &app,
        &app.new_client(),
        "signup",
        &[("email", "lapse@example.com"), ("password", GOOD_PASSWORD)],
    )
    .await;
    let refresh = cookie_value(&set_cookie(&signup, "portcullis_refresh").unwrap());
    let me = |cookie: String| {
        let url = app.url("/api/auth/ui/me");
        async move {
            reqwest::Client::new()
                .get(url)
                .header("accept", "application/json")
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    let tokens = || {
        app.sql
            .scalar::<i64>("SELECT COUNT(*) FROM refresh_tokens", &[])
    };

    // Only the refresh cookie: the access cookie has expired and gone.
    let read = me(format!("portcullis_refresh={refresh}")).await;

    assert_eq!(read.status(), 200);
    assert!(set_cookie(&read, "portcullis_access").is_none());
    assert!(set_cookie(&read, "portcullis_refresh").is_none());
    assert_eq!(read.json::<Value>().await.unwrap(), Value::Null);
    assert_eq!(tokens().await, 1, "nothing rotated");
    // The app asks whether there is anything to renew before it POSTs.
    let renewable = |cookie: Option<String>| {
        let mut request = reqwest::Client::new()
            .get(app.url("/api/auth/ui/renewable"))
            .header("accept", "application/json");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(
        renewable(Some(format!("portcullis_refresh={refresh}"))).await,
        Value::Bool(true)
    );
    assert_eq!(renewable(None).await, Value::Bool(false));

    let renewed = reqwest::Client::new()
        .post(app.url("/api/auth/ui/refresh"))
        .header("accept", "application/json")
        .header("origin", app.address.as_str())
        .header("cookie", format!("portcullis_refresh={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    assert_eq!(tokens().await, 2);
    let access = cookie_value(&set_cookie(&renewed, "portcullis_access").unwrap());
    let body: Value = me(format!("portcullis_access={access}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["email"], "lapse@example.com");
}
