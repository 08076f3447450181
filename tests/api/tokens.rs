//! Access tokens and how they travel: expiry, forgeries, bearer transport, cookie attributes, signing out.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    error_code, set_cookie, set_cookies, spawn_app, spawn_app_with, Backend, ACCESS, GOOD_PASSWORD,
    REFRESH, TEST_JWT_SECRET,
};
use crate::on_both_backends;

on_both_backends!(
    access_tokens_expire,
    forged_and_foreign_access_tokens_are_refused,
    bearer_transport_works_end_to_end,
    secure_cookies_carry_host_and_secure_prefixes,
    logout_revokes_the_session_and_a_second_one_is_401,
    a_bearer_client_signs_out_with_its_refresh_token,
    logout_without_any_valid_credential_is_401,
);

async fn access_tokens_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup(&app.client).await;
    assert_eq!(app.me(&app.client).await.status(), 200);

    app.clock.advance(Duration::from_secs(15 * 60 + 31));

    assert_eq!(app.me(&app.client).await.status(), 401);
    // A refresh brings the session back.
    assert_eq!(app.refresh(&app.client).await.status(), 200);
    assert_eq!(app.me(&app.client).await.status(), 200);
}

async fn forged_and_foreign_access_tokens_are_refused(backend: Backend) {
    use jsonwebtoken::{decode_header, encode, EncodingKey, Header};
    let app = spawn_app(backend).await;
    let response = app
        .post_json(
            &app.client,
            "/api/auth/login",
            &json!({ "email": app.signup(&app.new_client()).await, "password": GOOD_PASSWORD, "transport": "bearer" }),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let valid = body["access_token"].as_str().unwrap().to_owned();
    let claims: Value = {
        use base64::Engine;
        let payload = valid.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    // Tokens name their key and type; a forgery names the same.
    let header = Header {
        kid: decode_header(&valid).unwrap().kid,
        typ: Some("at+jwt".into()),
        ..Header::default()
    };
    assert!(header.kid.is_some());
    let sign = |claims: &Value| {
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        sign(&c)
    };
    let now = chrono::Utc::now().timestamp();
    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let alg_none = {
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({ "alg": "none", "typ": "JWT" })),
            b64(&claims)
        )
    };
    let other_key = encode(
        &header,
        &claims,
        &EncodingKey::from_secret(b"another-secret-another-secret-32b"),
    )
    .unwrap();
    let no_kid = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .unwrap();

    let bearer = |t: String| {
        let client = app.new_client();
        let url = app.url("/api/auth/me");
        async move {
            client
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(bearer(valid.clone()).await, 200, "the genuine token works");
    assert_eq!(
        bearer(sign(&claims)).await,
        200,
        "re-signing with the right key works"
    );
    for (name, token) in [
        ("tampered signature", tampered),
        ("alg none", alg_none),
        ("other key", other_key),
        ("no key id", no_kid),
        ("wrong audience", with("aud", json!("someone-else"))),
        ("wrong issuer", with("iss", json!("http://evil.example"))),
        ("expired", with("exp", json!(now - 120))),
        ("no subject", {
            let mut c = claims.clone();
            c.as_object_mut().unwrap().remove("sub");
            sign(&c)
        }),
        ("wrong type", with("typ", json!("refresh"))),
        ("not valid yet", with("nbf", json!(now + 600))),
        ("issued in the future", with("iat", json!(now + 600))),
        ("no nbf", {
            let mut c = claims.clone();
            c.as_object_mut().unwrap().remove("nbf");
            sign(&c)
        }),
        ("a JWT but not an access token", {
            let plain = Header {
                typ: Some("JWT".into()),
                ..header.clone()
            };
            encode(
                &plain,
                &claims,
                &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
            )
            .unwrap()
        }),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        assert_eq!(bearer(token).await, 401, "{name}");
    }
}

async fn bearer_transport_works_end_to_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.signup(&app.new_client()).await;
    let client = app.new_client();

    let login = app
        .post_json(
            &client,
            "/api/auth/login",
            &json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }),
        )
        .await;
    assert_eq!(login.status(), 200);
    assert!(
        set_cookies(&login).is_empty(),
        "bearer transport sets no cookies"
    );
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    let me = client
        .get(app.url("/api/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let refreshed = app
        .post_json(
            &client,
            "/api/auth/refresh",
            &json!({ "refresh_token": refresh, "transport": "bearer" }),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    assert!(set_cookies(&refreshed).is_empty());
    let body: Value = refreshed.json().await.unwrap();
    let new_access = body["access_token"].as_str().unwrap();
    assert_ne!(body["refresh_token"].as_str().unwrap(), refresh);

    // Bearer calls are not subject to the browser CSRF rule.
    let profile = client
        .put(app.url("/api/auth/profile"))
        .bearer_auth(new_access)
        .header("origin", "https://elsewhere.example")
        .json(&json!({ "display_name": "Via Bearer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
}

async fn secure_cookies_carry_host_and_secure_prefixes(backend: Backend) {
    let app = spawn_app_with(backend, &[("PORTCULLIS_COOKIE_SECURE", "true")]).await;

    let response = app
        .post_json(
            &app.new_client(),
            "/api/auth/signup",
            &json!({ "email": "secure@example.com", "password": GOOD_PASSWORD }),
        )
        .await;

    assert_eq!(response.status(), 201);
    let access = set_cookie(&response, "__Host-portcullis_access").unwrap();
    let refresh = set_cookie(&response, "__Secure-portcullis_refresh").unwrap();
    assert!(access.contains("Secure") && access.contains("Path=/") && !access.contains("Domain"));
    assert!(refresh.contains("Secure") && refresh.contains("Path=/api/auth"));
}

async fn logout_revokes_the_session_and_a_second_one_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let refresh_token = app.signup_for_refresh_token(&app.client).await;

    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    let access = set_cookie(&response, ACCESS).unwrap();
    let refresh = set_cookie(&response, REFRESH).unwrap();
    assert!(access.contains("Max-Age=0") && access.contains("Path=/"));
    assert!(refresh.contains("Max-Age=0") && refresh.contains("Path=/api/auth"));
    assert_eq!(app.me(&app.client).await.status(), 401);
    let reuse = app
        .post_json(
            &app.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await;
    assert_eq!(
        reuse.status(),
        401,
        "the refresh token died with the session"
    );
    // Signed out already: nothing to end, and the client is told so.
    for client in [app.client.clone(), app.new_client()] {
        let again = client
            .post(app.url("/api/auth/logout"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 401);
        assert!(set_cookie(&again, ACCESS).unwrap().contains("Max-Age=0"));
    }
}

/// A bearer client has no cookies; it signs out with its refresh token.
async fn a_bearer_client_signs_out_with_its_refresh_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.bearer_session().await;

    let response = app
        .post_json(
            &app.new_client(),
            "/api/auth/logout",
            &json!({ "refresh_token": session.refresh }),
        )
        .await;

    assert_eq!(response.status(), 204);
    assert_eq!(app.bearer_refresh(&session.refresh).await.status(), 401);
    assert_eq!(
        app.with_bearer(reqwest::Method::GET, "/api/auth/me", &session.access)
            .await
            .status(),
        401,
        "the session is revoked, so its access token reads nothing"
    );
    let again = app
        .post_json(
            &app.new_client(),
            "/api/auth/logout",
            &json!({ "refresh_token": session.refresh }),
        )
        .await;
    assert_eq!(
        again.status(),
        401,
        "a dead refresh token signs nothing out"
    );
}

async fn logout_without_any_valid_credential_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let nothing = app
        .new_client()
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    let unknown_token = app
        .post_json(
            &app.new_client(),
            "/api/auth/logout",
            &json!({ "refresh_token": "made-up" }),
        )
        .await;
    let bad_access = app
        .with_bearer(reqwest::Method::POST, "/api/auth/logout", "not.a.jwt")
        .await;
    let unknown_cookie = app
        .new_client()
        .post(app.url("/api/auth/logout"))
        .header("cookie", format!("{REFRESH}=made-up"))
        .send()
        .await
        .unwrap();

    for response in [nothing, unknown_token, bad_access, unknown_cookie] {
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "unauthenticated");
    }
}
