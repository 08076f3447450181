//! Security headers on pages and API responses.

use crate::helpers::{spawn_app, spawn_app_with, Backend};
use crate::on_both_backends;

on_both_backends!(
    pages_carry_a_nonce_csp_matching_their_scripts,
    every_response_is_hardened,
    hsts_only_with_secure_cookies,
    sign_out_clears_site_data,
    pages_are_never_stored_and_only_development_allows_websockets,
);

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn pages_carry_a_nonce_csp_matching_their_scripts(backend: Backend) {
    let app = spawn_app(backend).await;

    for path in ["/", "/login", "/no-such-page"] {
        let first = app.get(path).await;
        let second = app.get(path).await;

        let csp =
            header(&first, "content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap()
            .to_owned();
        assert_ne!(
            header(&second, "content-security-policy"),
            Some(csp.clone()),
            "a fresh nonce per response"
        );
        let html = first.text().await.unwrap();
        assert!(
            html.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: scripts carry the nonce"
        );
    }
}

async fn every_response_is_hardened(backend: Backend) {
    let app = spawn_app(backend).await;

    for path in ["/", "/health", "/api/auth/me", "/pkg/none.js"] {
        let response = app.get(path).await;
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&response, "referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            header(&response, "x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        assert!(
            header(&response, "strict-transport-security").is_none(),
            "no HSTS without secure cookies"
        );
    }
}

async fn hsts_only_with_secure_cookies(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_COOKIE_SECURE", "true")]).await;

    let response = app.get("/").await;

    let hsts = header(&response, "strict-transport-security").unwrap();
    assert!(hsts.starts_with("max-age=") && hsts.contains("includeSubDomains"));
}

async fn sign_out_clears_site_data(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;

    let json = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    let ui = app
        .client
        .post(app.url("/api/auth/ui/logout"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();

    for response in [json, ui] {
        assert_eq!(
            header(&response, "clear-site-data").as_deref(),
            Some("\"cookies\"")
        );
    }
}

async fn pages_are_never_stored_and_only_development_allows_websockets(backend: Backend) {
    let development = spawn_app(backend).await;
    let production = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
            ("PORTCULLIS_JWT_SECRET", "kV3q9ZtX1mB7rP2wY8sL4nD6hF0gJ5cA"),
        ],
    )
    .await;

    for (app, connect) in [
        (&development, "connect-src 'self' ws:;"),
        (&production, "connect-src 'self';"),
    ] {
        for path in ["/", "/login", "/no-such-page"] {
            let page = app.get(path).await;
            assert_eq!(
                header(&page, "cache-control").as_deref(),
                Some("no-store"),
                "{path}: {} {:?}",
                page.status(),
                page.headers()
            );
            let csp = header(&page, "content-security-policy").unwrap();
            assert!(csp.contains(connect), "{path}: {csp}");
        }
    }
}
