//! Changing one's own name and password.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, Backend, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    password_change_needs_the_current_password_and_ends_other_sessions,
    display_name_can_be_changed,
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
