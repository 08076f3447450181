//! Services beside Portcullis: the sign-in page returning to an allowed
//! host (`rd=`, `next=`), the access cookie shared with a domain, and CORS
//! for a front end on its own origin.

use reqwest::{header, Client, StatusCode};
use serde_json::json;

use crate::helpers::{set_cookie, set_cookies, spawn_app_with, Backend, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    sign_in_returns_to_allowed_hosts_only,
    a_signed_in_visitor_goes_straight_back,
);

const RETURN_HOSTS: &str = "app.example.com, .example.org";

fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn signed_up(app: &TestApp, client: &Client) -> String {
    let email = format!("rd-{}@example.com", uuid::Uuid::new_v4().simple());
    let response = app
        .post_json(
            client,
            "/api/auth/signup",
            &json!({ "email": email, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    email
}

/// The sign-in form's hidden `next` as the page renders it.
async fn hidden_next(app: &TestApp, query: &str) -> String {
    let html = browser()
        .get(app.url(&format!("/login{query}")))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"next\" value=\"";
    let start = html.find(marker).expect("the form carries next") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

/// Where a plain (no-WASM) sign-in form post sends the browser.
async fn form_sign_in(app: &TestApp, email: &str, next: &str) -> String {
    let response = browser()
        .post(app.url("/api/auth/ui/login"))
        .header(header::ACCEPT, "text/html")
        .header(header::ORIGIN, app.address.clone())
        .form(&[
            ("email", email),
            ("password", GOOD_PASSWORD),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn sign_in_returns_to_allowed_hosts_only(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("PORTCULLIS_ALLOWED_RETURN_HOSTS", RETURN_HOSTS)],
    )
    .await;
    let allowed = "https://app.example.com/reports?y=2026&m=1";
    assert_eq!(
        hidden_next(
            &app,
            "?rd=https%3A%2F%2Fapp.example.com%2Freports%3Fy%3D2026%26m%3D1"
        )
        .await,
        allowed
    );
    assert_eq!(
        hidden_next(&app, "?next=https%3A%2F%2Fx.example.org%2F").await,
        "https://x.example.org/"
    );
    assert_eq!(hidden_next(&app, "?next=/account").await, "/account");
    for refused in [
        "https://evil.com/",
        "https://app.example.com.evil.com/",
        "https://app.example.com@evil.com/",
        "//evil.com/",
        "/\\evil.com",
        "javascript:alert(1)",
        "https://evil.com%2f.example.org/",
    ] {
        let query = format!("?rd={}", portcullis::validate::query_value(refused));
        assert_eq!(hidden_next(&app, &query).await, "", "{refused}");
    }

    let email = signed_up(&app, &browser()).await;
    assert_eq!(form_sign_in(&app, &email, allowed).await, allowed);
    assert_eq!(form_sign_in(&app, &email, "https://evil.com/").await, "/");
    assert_eq!(form_sign_in(&app, &email, "/account").await, "/account");

    // A refused sign-in comes back to the form, keeping the way back.
    let refused = browser()
        .post(app.url("/api/auth/ui/login"))
        .header(header::ACCEPT, "text/html")
        .header(header::ORIGIN, app.address.clone())
        .form(&[
            ("email", email.as_str()),
            ("password", "wrong-password-1"),
            ("next", allowed),
        ])
        .send()
        .await
        .unwrap();
    let back = refused.headers()["location"].to_str().unwrap();
    assert!(
        back.starts_with(
            &app.url("/login?next=https%3A//app.example.com/reports%3Fy%3D2026%26m%3D1")
        ),
        "{back}"
    );
}

async fn a_signed_in_visitor_goes_straight_back(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("PORTCULLIS_ALLOWED_RETURN_HOSTS", RETURN_HOSTS)],
    )
    .await;
    let client = browser();
    signed_up(&app, &client).await;
    let response = client
        .get(app.url("/login?rd=https%3A%2F%2Fapp.example.com%2Fdash"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        "https://app.example.com/dash"
    );
    let elsewhere = client
        .get(app.url("/login?rd=https%3A%2F%2Fevil.com%2F"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.headers()["location"], "/");
}

#[tokio::test]
async fn the_access_cookie_is_shared_with_the_domain_and_the_refresh_cookie_is_not() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("PORTCULLIS_PUBLIC_URL", "http://auth.example.test"),
            ("PORTCULLIS_COOKIE_DOMAIN", "example.test"),
        ],
    )
    .await;
    let client = browser();
    let response = app
        .post_json(
            &client,
            "/api/auth/signup",
            &json!({ "email": "shared@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let access = set_cookie(&response, "portcullis_access").unwrap();
    assert!(access.contains("Domain=example.test"), "{access}");
    let refresh = set_cookie(&response, "portcullis_refresh").unwrap();
    assert!(!refresh.contains("Domain"), "{refresh}");

    // Signing out clears the shared cookie where it was set.
    let logout = client
        .post(app.url("/api/auth/logout"))
        .header(
            header::COOKIE,
            format!(
                "portcullis_refresh={}",
                crate::helpers::cookie_value(&refresh)
            ),
        )
        .send()
        .await
        .unwrap();
    let cleared = set_cookies(&logout)
        .into_iter()
        .find(|c| c.starts_with("portcullis_access="))
        .unwrap();
    assert!(cleared.contains("Domain=example.test") && cleared.contains("Max-Age=0"));
}

#[tokio::test]
async fn allowed_origins_get_cors_with_credentials_and_others_get_nothing() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("PORTCULLIS_CORS_ORIGINS", "https://app.example.com"),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "app.example.com"),
        ],
    )
    .await;
    let preflight = |origin: &'static str| {
        Client::new()
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/profile"))
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    let other = preflight("https://evil.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Forward-auth is no CORS endpoint: an OPTIONS request Envoy holds is
    // decided like any other, not answered by the CORS layer.
    let held_preflight = Client::new()
        .request(
            reqwest::Method::OPTIONS,
            app.url("/api/authz/envoy/private"),
        )
        .header(header::HOST, "app.example.com")
        .header(header::ORIGIN, "https://app.example.com")
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(held_preflight.status(), StatusCode::UNAUTHORIZED);

    // The forgery guard takes the allowed origin as the site's own, even
    // from another site, and still refuses every other.
    let email = "cors@example.com";
    let signup = |origin: &'static str, email: &'static str| {
        Client::new()
            .post(app.url("/api/auth/signup"))
            .header(header::ORIGIN, origin)
            .header("sec-fetch-site", "same-site")
            .json(&json!({ "email": email, "password": GOOD_PASSWORD }))
            .send()
    };
    let from_app = signup("https://app.example.com", email).await.unwrap();
    assert_eq!(from_app.status(), StatusCode::CREATED);
    assert_eq!(
        from_app.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let forged = signup("https://evil.com", "cors2@example.com")
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
