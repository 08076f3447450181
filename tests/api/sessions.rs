//! Listing and ending one's own sessions; security activity.

use serde_json::{json, Value};

use reqwest::Method;

use crate::helpers::{spawn_app, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    sessions_are_listed_with_the_current_one_marked,
    revoking_a_session_stops_its_refresh_at_once,
    revoke_others_keeps_only_this_session,
    other_users_sessions_are_not_found,
    activity_lists_security_events_newest_first,
    a_revoked_sessions_access_token_is_refused_by_every_account_route,
    a_disabled_users_access_token_is_refused_by_every_account_route,
);

async fn sessions(app: &TestApp, client: &reqwest::Client) -> Vec<Value> {
    let response = client
        .get(app.url("/api/auth/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

async fn login_with_agent(app: &TestApp, email: &str, agent: &str) -> reqwest::Client {
    let client = app.new_client();
    let response = client
        .post(app.url("/api/auth/login"))
        .header("user-agent", agent)
        .json(&json!({ "email": email, "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    client
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn sessions_are_listed_with_the_current_one_marked(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    let laptop = login_with_agent(&app, &email, FIREFOX).await;

    let listed = sessions(&app, &laptop).await;

    assert_eq!(listed.len(), 2);
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Firefox on Linux");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for session in &listed {
        for key in ["id", "signed_in_at", "last_used_at"] {
            assert!(session[key].is_string(), "{key}");
        }
    }
}

async fn revoking_a_session_stops_its_refresh_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    let other = login_with_agent(&app, &email, FIREFOX).await;
    let listed = sessions(&app, &app.client).await;
    let other_id = listed.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let response = app
        .client
        .delete(app.url(&format!("/api/auth/sessions/{other_id}")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    assert_eq!(app.refresh(&other).await.status(), 401);
    assert_eq!(app.refresh(&app.client).await.status(), 200);
    assert_eq!(sessions(&app, &app.client).await.len(), 1);
    let again = app
        .client
        .delete(app.url(&format!("/api/auth/sessions/{other_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

async fn revoke_others_keeps_only_this_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    let phone = login_with_agent(
        &app,
        &email,
        "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36",
    )
    .await;
    let laptop = login_with_agent(&app, &email, FIREFOX).await;

    let response = app
        .client
        .post(app.url("/api/auth/sessions/revoke-others"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    assert_eq!(app.refresh(&phone).await.status(), 401);
    assert_eq!(app.refresh(&laptop).await.status(), 401);
    let left = sessions(&app, &app.client).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
}

async fn other_users_sessions_are_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;
    let mallory = app.new_client();
    app.signup(&mallory).await;
    let victim_session = sessions(&app, &app.client).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let attempt = mallory
        .delete(app.url(&format!("/api/auth/sessions/{victim_session}")))
        .send()
        .await
        .unwrap();
    let malformed = mallory
        .delete(app.url("/api/auth/sessions/not-a-uuid"))
        .send()
        .await
        .unwrap();
    let anonymous = app
        .new_client()
        .get(app.url("/api/auth/sessions"))
        .send()
        .await
        .unwrap();

    assert_eq!(attempt.status(), 404);
    assert_eq!(malformed.status(), 404);
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        app.refresh(&app.client).await.status(),
        200,
        "the victim's session lives on"
    );
    let mallorys = sessions(&app, &mallory).await;
    assert_eq!(mallorys.len(), 1, "mallory sees her own session only");
    assert_ne!(mallorys[0]["id"], victim_session.as_str());
}

async fn activity_lists_security_events_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    app.login(&app.new_client(), &email, "wrong-password-123")
        .await;
    app.clock.advance(std::time::Duration::from_secs(1));
    app.login(&app.new_client(), &email, GOOD_PASSWORD).await;
    // Routine refreshes are not security activity.
    assert_eq!(app.refresh(&app.client).await.status(), 200);

    let response = app
        .client
        .get(app.url("/api/auth/activity"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let events: Vec<(&str, &str)> = body["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("login", "success"),
            ("login", "failure"),
            ("signup", "success")
        ]
    );
}

/// Every route that reads or changes the account, as (method, path, body).
fn account_routes(session_id: &str) -> Vec<(Method, String, Value)> {
    vec![
        (Method::GET, "/api/auth/me".into(), json!({})),
        (
            Method::PUT,
            "/api/auth/profile".into(),
            json!({ "display_name": "Mallory" }),
        ),
        (
            Method::PUT,
            "/api/auth/profile".into(),
            json!({ "current_password": GOOD_PASSWORD, "new_password": "an0ther-l0ng-passphrase" }),
        ),
        (Method::GET, "/api/auth/sessions".into(), json!({})),
        (Method::GET, "/api/auth/activity".into(), json!({})),
        (
            Method::POST,
            "/api/auth/sessions/revoke-others".into(),
            json!({}),
        ),
        (
            Method::DELETE,
            format!("/api/auth/sessions/{session_id}"),
            json!({}),
        ),
    ]
}

async fn refused_everywhere(app: &TestApp, access: &str, victim_session: &str) {
    for (method, path, body) in account_routes(victim_session) {
        let response = app
            .new_client()
            .request(method.clone(), app.url(&path))
            .bearer_auth(access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
}

/// The session id of a bearer's access token, from the sessions list.
async fn own_session_id(app: &TestApp, access: &str) -> String {
    let response = app
        .with_bearer(Method::GET, "/api/auth/sessions", access)
        .await;
    let body: Value = response.json().await.unwrap();
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An access token outlives the revocation of its session by design; the
/// account's routes check the session, so it gets nothing there.
async fn a_revoked_sessions_access_token_is_refused_by_every_account_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let stolen = app.bearer_session().await;
    let stolen_id = own_session_id(&app, &stolen.access).await;
    let owner = login_with_agent(&app, &stolen.email, FIREFOX).await;

    let revoked = owner
        .delete(app.url(&format!("/api/auth/sessions/{stolen_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);

    refused_everywhere(&app, &stolen.access, &stolen_id).await;
    // Nothing was changed by the refused calls: the owner's two other
    // sessions (its sign-up's and this one) are still there.
    assert_eq!(sessions(&app, &owner).await.len(), 2);
    let login = app
        .login(&app.new_client(), &stolen.email, GOOD_PASSWORD)
        .await;
    assert_eq!(login.status(), 200, "the password is unchanged");
    let me: Value = owner
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(me["user"]["display_name"], "Mallory");
}

async fn a_disabled_users_access_token_is_refused_by_every_account_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.bearer_session().await;
    let id = own_session_id(&app, &session.access).await;

    // `1 = 1`: true on both backends. The email is ours, made of [a-z0-9@.-].
    let disabled = app
        .sql
        .execute(&format!(
            "UPDATE users SET disabled = (1 = 1) WHERE email = '{}'",
            session.email
        ))
        .await
        .unwrap();
    assert_eq!(disabled, 1);

    // Written behind the server's back, as by another replica: it reaches
    // the server's view of the session within a second.
    let took = crate::authz_view::refused_after(&app, &session.access).await;
    assert!(took <= std::time::Duration::from_secs(1), "{took:?}");
    refused_everywhere(&app, &session.access, &id).await;
}
