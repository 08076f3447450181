//! The audit log.

use crate::helpers::{spawn_app, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(audit_log_records_events_without_secrets,);

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
