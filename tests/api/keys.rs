//! Signing keys: `kid`s, rotation, EdDSA and the JWKS document.

use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use portcullis::server::credentials::keys::generate_ed25519;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, ServerProcess, TestApp, GOOD_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    a_token_verifies_with_nothing_but_the_jwks_document,
    hs256_publishes_no_keys,
    rotated_hs256_keys_keep_old_tokens_until_removed,
    rotated_eddsa_keys_keep_old_tokens_until_removed,
);

/// Every server in a test claims the same issuer, as replicas behind one
/// ingress do.
const PUBLIC_URL: &str = "http://portcullis.test";

async fn bearer_login(url: impl Fn(&str) -> String, email: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(url("/api/auth/login"))
        .json(&json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

async fn me_status(url: impl Fn(&str) -> String, token: &str) -> u16 {
    reqwest::Client::new()
        .get(url("/api/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn kid(token: &str) -> String {
    decode_header(token).unwrap().kid.expect("kid")
}

async fn a_token_verifies_with_nothing_but_the_jwks_document(backend: Backend) {
    let (private, _) = generate_ed25519();
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &private),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
    )
    .await;
    let email = app.signup(&app.new_client()).await;
    let token = bearer_login(|p| app.url(p), &email).await;

    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    let raw: Value = response.json().await.unwrap();
    // Public parts only: no private `d` anywhere in the document.
    assert!(!raw.to_string().contains("\"d\""), "{raw}");
    assert!(!raw.to_string().contains(&private));

    // What another service would do, holding no secret at all.
    let jwks: JwkSet = serde_json::from_value(raw).unwrap();
    let header = decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = jwks
        .find(&kid(&token))
        .expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["portcullis"]);
    validation.set_issuer(&[PUBLIC_URL]);
    let claims = decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("verifies against the published key")
        .claims;
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["typ"], "access");
}

async fn hs256_publishes_no_keys(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, json!({ "keys": [] }));
}

/// Signs in on a server with the old key, then checks the token against a
/// server that rotated (new key signing, old accepted) and one that
/// removed the old key.
async fn rotation_keeps_old_tokens_until_removed(
    app: &TestApp,
    rotated: &[(&str, &str)],
    removed: &[(&str, &str)],
) {
    let email = app.signup(&app.new_client()).await;
    let old_token = bearer_login(|p| app.url(p), &email).await;

    let rotated = ServerProcess::start(&app.database.url, rotated);
    assert_eq!(me_status(|p| rotated.url(p), &old_token).await, 200);
    let new_token = bearer_login(|p| rotated.url(p), &email).await;
    assert_ne!(kid(&new_token), kid(&old_token), "signed with the new key");
    assert_eq!(me_status(|p| rotated.url(p), &new_token).await, 200);
    // The old-key server does not know the new key yet.
    assert_eq!(me_status(|p| app.url(p), &new_token).await, 401);

    let removed = ServerProcess::start(&app.database.url, removed);
    assert_eq!(me_status(|p| removed.url(p), &old_token).await, 401);
    assert_eq!(me_status(|p| removed.url(p), &new_token).await, 200);
}

async fn rotated_hs256_keys_keep_old_tokens_until_removed(backend: Backend) {
    const OLD: &str = "old-secret-0123456789abcdef-0123456789";
    const NEW: &str = "new-secret-0123456789abcdef-0123456789";
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_JWT_SECRET", OLD),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
    )
    .await;
    rotation_keeps_old_tokens_until_removed(
        &app,
        &[
            ("PORTCULLIS_JWT_SECRET", NEW),
            ("PORTCULLIS_JWT_ACCEPTED_SECRETS", OLD),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
        &[
            ("PORTCULLIS_JWT_SECRET", NEW),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
    )
    .await;
}

async fn rotated_eddsa_keys_keep_old_tokens_until_removed(backend: Backend) {
    let (old_private, old_public) = generate_ed25519();
    let (new_private, _) = generate_ed25519();
    let app = spawn_app_with(
        backend,
        &[
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &old_private),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
    )
    .await;
    rotation_keeps_old_tokens_until_removed(
        &app,
        &[
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &new_private),
            ("PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS", &old_public),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
        &[
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &new_private),
            ("PORTCULLIS_PUBLIC_URL", PUBLIC_URL),
        ],
    )
    .await;
}
