//! Listing and ending one's own sessions; security activity.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    sessions_are_listed_with_the_current_one_marked,
    revoking_a_session_stops_its_refresh_at_once,
    revoke_others_keeps_only_this_session,
    other_users_sessions_are_not_found,
    activity_lists_security_events_newest_first,
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
