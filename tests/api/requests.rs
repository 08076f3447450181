//! Requests the API refuses before any rule runs: forged, malformed, unauthenticated.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, Backend, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    cross_site_requests_with_cookies_are_refused,
    malformed_requests_get_clear_4xx_answers,
    every_401_says_how_to_authenticate,
    a_bearer_header_exempts_from_csrf_only_when_it_authenticates_a_cookie_free_route,
);

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

async fn every_401_says_how_to_authenticate(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;
    let stranger = app.new_client();

    let refusals = [
        app.me(&stranger).await,
        app.refresh(&stranger).await,
        app.login(&stranger, &email, "wrong-password-123").await,
        stranger
            .get(app.url("/api/auth/sessions"))
            .header("authorization", "Bearer not-a-token")
            .send()
            .await
            .unwrap(),
        // The web app's own calls answer alike.
        stranger
            .post(app.url("/api/auth/ui/refresh"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    ];
    for response in refusals {
        assert_eq!(response.status(), 401, "{}", response.url());
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"portcullis\"",
            "{}",
            response.url()
        );
    }
    // Other refusals do not ask for credentials.
    let missing = app.get("/api/no-such-endpoint").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("www-authenticate").is_none());
}

/// CONNECT and TRACE are refused before any route, with the same
/// hardening headers as every other answer.
#[tokio::test]
async fn connect_and_trace_get_405() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let trace = app
        .client
        .request(reqwest::Method::TRACE, app.url("/api/auth/me"))
        .header("cookie", "portcullis_access=secret")
        .send()
        .await
        .unwrap();
    assert_eq!(trace.status(), 405);
    assert_eq!(trace.headers()["x-content-type-options"], "nosniff");
    assert!(trace.headers()["allow"].to_str().unwrap().contains("GET"));
    let body = trace.text().await.unwrap();
    assert!(!body.contains("secret"), "TRACE echoed the request: {body}");
    assert!(body.contains("method_not_allowed"), "{body}");

    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 405"), "{answer}");
    assert!(answer.contains("x-frame-options: deny"), "{answer}");
}

/// The README promises 64 KiB for every body; server functions took 2 MiB.
#[tokio::test]
async fn every_route_takes_at_most_64_kib_of_body() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let big_name = "x".repeat(100 * 1024);
    let form = app
        .client
        .post(app.url("/api/auth/ui/login"))
        .header("accept", "application/json")
        .form(&[("email", big_name.as_str()), ("password", "x")])
        .send()
        .await
        .unwrap();
    let json = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": big_name, "password": "x" }))
        .send()
        .await
        .unwrap();
    for response in [form, json] {
        assert_eq!(response.status(), 413);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "payload_too_large");
    }
    // Just under the limit is read as usual.
    let fits = app
        .client
        .post(app.url("/api/auth/ui/login"))
        .header("accept", "application/json")
        .form(&[
            ("email", "a@example.com"),
            ("password", &"y".repeat(60 * 1024)),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(fits.status(), 413);
}

/// A browser never adds an `Authorization` header on its own, so a valid
/// bearer token exempts a request from the origin check; a made-up one
/// does not, and neither does any token on a route that reads the cookies.
async fn a_bearer_header_exempts_from_csrf_only_when_it_authenticates_a_cookie_free_route(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let signed_up = app
        .post_json(
            &app.client,
            "/api/auth/signup",
            &json!({ "email": "csrf@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    let access = crate::helpers::cookie_value(
        &crate::helpers::set_cookie(&signed_up, crate::helpers::ACCESS).unwrap(),
    );
    let cross_site = |method: reqwest::Method, path: &str, bearer: &str| {
        app.client
            .request(method, app.url(path))
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.example")
            .bearer_auth(bearer)
            .json(&json!({ "display_name": "Renamed" }))
            .send()
    };

    // The cookie jar carries the refresh cookie: a forged refresh.
    let refresh = cross_site(reqwest::Method::POST, "/api/auth/refresh", &access)
        .await
        .unwrap();
    assert_eq!(refresh.status(), 403);
    // A made-up token exempts nothing (the access cookie would be used).
    let made_up = cross_site(reqwest::Method::PUT, "/api/auth/profile", "made-up")
        .await
        .unwrap();
    assert_eq!(made_up.status(), 403);
    let body: Value = made_up.json().await.unwrap();
    assert_eq!(error_code(&body), "csrf");
    // A valid token on a route that reads no cookie is a bearer client.
    let bearer = cross_site(reqwest::Method::PUT, "/api/auth/profile", &access)
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
}
