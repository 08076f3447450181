//! Changing one's own name and password.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    password_change_needs_the_current_password_and_ends_other_sessions,
    display_name_can_be_changed,
    a_password_change_that_fails_part_way_changes_nothing,
);

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
    // This session's token predates the change: stale until refreshed.
    let stale: serde_json::Value = app.me(&app.client).await.json().await.unwrap();
    assert_eq!(stale["error"], "stale_authorization");
    assert_eq!(
        app.refresh(&app.client).await.status(),
        200,
        "this session goes on"
    );
    assert_eq!(app.me(&app.client).await.status(), 200);
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

/// Makes the database refuse the audit record of a successful password
/// change: a real failure in the middle of the change, injected with a
/// trigger rather than a mock.
async fn refuse_password_change_records(app: &TestApp) {
    let statements: &[&str] = match app.database.backend() {
        Backend::Sqlite => &["CREATE TRIGGER refuse_password_change \
             BEFORE INSERT ON audit_events \
             WHEN NEW.event_type = 'password_change' AND NEW.outcome = 'success' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_password_change() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_password_change BEFORE INSERT ON audit_events \
             FOR EACH ROW WHEN (NEW.event_type = 'password_change' AND NEW.outcome = 'success') \
             EXECUTE FUNCTION refuse_password_change()",
        ],
    };
    for sql in statements {
        app.sql.execute(sql).await.unwrap();
    }
}

async fn a_password_change_that_fails_part_way_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.client).await;
    let other_device = app.new_client();
    assert_eq!(
        app.login(&other_device, &email, GOOD_PASSWORD)
            .await
            .status(),
        200
    );
    refuse_password_change_records(&app).await;

    let change = app
        .client
        .put(app.url("/api/auth/profile"))
        .json(&json!({ "current_password": GOOD_PASSWORD, "new_password": "quarry-lantern-mosaic-77" }))
        .send()
        .await
        .unwrap();

    assert_eq!(change.status(), 500);
    let body: Value = change.json().await.unwrap();
    assert_eq!(error_code(&body), "internal");
    assert_eq!(
        app.refresh(&other_device).await.status(),
        200,
        "the other session lives on"
    );
    assert_eq!(
        app.login(&app.new_client(), &email, GOOD_PASSWORD)
            .await
            .status(),
        200,
        "the old password still works"
    );
    assert_eq!(
        app.login(&app.new_client(), &email, "quarry-lantern-mosaic-77")
            .await
            .status(),
        401
    );
}
