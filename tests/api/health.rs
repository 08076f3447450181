use serde_json::Value;

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

on_both_backends!(
    health_answers_ok,
    ready_answers_when_the_database_does,
    ready_answers_503_when_the_database_is_gone,
    every_response_carries_a_request_id,
    unknown_api_paths_get_a_json_404,
);

async fn health_answers_ok(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/health").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

async fn ready_answers_when_the_database_does(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn ready_answers_503_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    match backend {
        // PostgreSQL: really drop the database under the running server.
        Backend::Postgres => app.database.drop_now().await,
        // SQLite lives in-process; closing the pool is how it goes away.
        Backend::Sqlite => app.db.close().await,
    }

    let response = app.get("/ready").await;

    assert_eq!(response.status(), 503);
    let request_id = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    assert_eq!(body["request_id"], request_id.as_str());
    let text = body.to_string();
    assert!(
        !text.contains("sqlx") && !text.contains("database \""),
        "no internal detail: {text}"
    );

    // Liveness is unaffected.
    assert_eq!(app.get("/health").await.status(), 200);
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;

    let first = app.get("/health").await;
    let second = app.get("/health").await;
    let kept = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "ingress-abc-123")
        .send()
        .await
        .unwrap();
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id with spaces\t")
        .send()
        .await
        .unwrap();

    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!id(&first).is_empty());
    assert_ne!(id(&first), id(&second));
    assert_eq!(id(&kept), "ingress-abc-123");
    assert_ne!(id(&replaced), "bad id with spaces\t");
}

async fn unknown_api_paths_get_a_json_404(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/api/no/such/thing").await;

    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
}
