//! Another service trusting Portcullis: the example downstream service
//! (examples/downstream.rs, compiled in here as it is) checks Portcullis's
//! tokens with `portcullis-verify`, by bearer header and by the access
//! cookie, and keeps accepting them across a rotation of the signing key.

use portcullis::server::credentials::keys::generate_ed25519;
use portcullis_verify::Verifier;
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, ServerProcess, TestDatabase, GOOD_PASSWORD};
use crate::on_both_backends;

#[path = "../../examples/downstream.rs"]
mod example;

on_both_backends!(the_example_service_trusts_portcullis_across_a_key_rotation);

/// A port free now, for a server that must come back on the same one.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the example service against `issuer`; its address.
async fn start_downstream(issuer: &str) -> String {
    let verifier = Verifier::from_jwks_url(
        issuer,
        "portcullis",
        format!("{issuer}/.well-known/jwks.json"),
    )
    .await
    .unwrap()
    // No TLS here: the plain cookie name.
    .with_access_cookie("portcullis_access")
    .expecting_assertions_for("app.example.com");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, example::app(verifier)).await });
    address
}

/// Signs `email` in (after signing up, when `signup`) as a bearer
/// client; its access token.
async fn sign_in(portcullis: &ServerProcess, email: &str, signup: bool) -> String {
    if signup {
        let created = Client::new()
            .post(portcullis.url("/api/auth/signup"))
            .json(&json!({ "email": email, "password": GOOD_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let response = Client::new()
        .post(portcullis.url("/api/auth/login"))
        .json(&json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn me(downstream: &str, auth: Auth<'_>) -> StatusCode {
    let request = Client::new().get(format!("{downstream}/me"));
    let request = match auth {
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Cookie(token) => request.header(header::COOKIE, format!("portcullis_access={token}")),
        Auth::None => request,
    };
    request.send().await.unwrap().status()
}

/// What the example's `/gate` says to a request forward-auth let through
/// on `portcullis`: its identity headers and assertion, as nginx passes
/// them on. Without the assertion, 401.
async fn through_the_gate(portcullis: &ServerProcess, downstream: &str, token: &str) -> StatusCode {
    let gate = Client::new()
        .get(portcullis.url("/api/authz/auth-request"))
        .bearer_auth(token)
        .header("x-original-method", "GET")
        .header("x-original-url", "https://app.example.com/gate")
        .send()
        .await
        .unwrap();
    assert_eq!(gate.status(), StatusCode::OK);
    let header = |name: &str| gate.headers()[name].to_str().unwrap().to_owned();
    let (email, assertion) = (
        header("x-auth-request-email"),
        header("x-portcullis-assertion"),
    );
    let bare = Client::new()
        .get(format!("{downstream}/gate"))
        .header("x-auth-request-email", &email)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    let page = Client::new()
        .get(format!("{downstream}/gate"))
        .header("x-auth-request-email", &email)
        .header("x-portcullis-assertion", assertion)
        .send()
        .await
        .unwrap();
    let status = page.status();
    if status == StatusCode::OK {
        assert!(page.text().await.unwrap().contains(&email));
    }
    status
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
    None,
}

async fn the_example_service_trusts_portcullis_across_a_key_rotation(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let issuer = format!("http://{listen}");
    let (old_private, old_public) = generate_ed25519();
    let (new_private, _) = generate_ed25519();
    let before = ServerProcess::start(
        &database.url,
        &[
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "app.example.com"),
            ("PORTCULLIS_LISTEN_ADDR", &listen),
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &old_private),
        ],
    );
    let downstream = start_downstream(&issuer).await;
    let email = format!("downstream-{}@example.com", uuid::Uuid::new_v4().simple());
    let old_token = sign_in(&before, &email, true).await;

    assert_eq!(
        me(&downstream, Auth::Bearer(&old_token)).await,
        StatusCode::OK
    );
    assert_eq!(
        me(&downstream, Auth::Cookie(&old_token)).await,
        StatusCode::OK
    );
    assert_eq!(me(&downstream, Auth::None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&downstream, Auth::Bearer("not.a.token")).await,
        StatusCode::UNAUTHORIZED
    );
    let who: Value = Client::new()
        .get(format!("{downstream}/me"))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["email"], email.as_str());
    let admin_only = Client::new()
        .get(format!("{downstream}/admin"))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_only.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        through_the_gate(&before, &downstream, &old_token).await,
        StatusCode::OK
    );

    // The key rotates: Portcullis comes back signing with a new key and
    // still accepting the old one. The downstream service has never seen
    // the new key; it must fetch it rather than refuse.
    drop(before);
    let after = ServerProcess::start(
        &database.url,
        &[
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "app.example.com"),
            ("PORTCULLIS_LISTEN_ADDR", &listen),
            ("PORTCULLIS_JWT_ALGORITHM", "EdDSA"),
            ("PORTCULLIS_JWT_SIGNING_KEY", &new_private),
            ("PORTCULLIS_JWT_ACCEPTED_PUBLIC_KEYS", &old_public),
        ],
    );
    let new_token = sign_in(&after, &email, false).await;
    for _ in 0..3 {
        for token in [&new_token, &old_token] {
            assert_eq!(me(&downstream, Auth::Bearer(token)).await, StatusCode::OK);
            assert_eq!(me(&downstream, Auth::Cookie(token)).await, StatusCode::OK);
        }
    }
    // Assertions signed with the new key pass too.
    assert_eq!(
        through_the_gate(&after, &downstream, &new_token).await,
        StatusCode::OK
    );
    // A made-up key id is refused.
    let forged = format!(
        "{}.{}",
        "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vLXN1Y2gta2V5IiwidHlwIjoiYXQrand0In0",
        new_token.split_once('.').unwrap().1
    );
    assert_eq!(
        me(&downstream, Auth::Bearer(&forged)).await,
        StatusCode::UNAUTHORIZED
    );
    drop(after);
}
