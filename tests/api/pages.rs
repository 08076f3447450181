use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

on_both_backends!(
    home_page_is_rendered_on_the_server,
    unknown_pages_get_a_real_404
);

async fn home_page_is_rendered_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign-in that stays on your servers"));
    // Not yet hydrated: only the WASM bundle flips this.
    assert!(html.contains(r#"data-hydrated="false""#));
    assert!(
        html.contains("/pkg/portcullis.js"),
        "hydration script is linked"
    );
}

async fn unknown_pages_get_a_real_404(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/no-such-page").await;

    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}
