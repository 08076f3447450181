//! Two real server processes on one PostgreSQL database, as two replicas
//! behind a load balancer: what an administrator changes on one is refused
//! on the other at once.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, ServerProcess, TestDatabase, GOOD_PASSWORD};

const ADMIN: &str = "replica-admin@example.com";
const USER: &str = "replica-user@example.com";
const TRIES: usize = 50;

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Signs `email` up on `replica` as a bearer client: (access, refresh).
async fn bearer_signup(http: &Client, replica: &ServerProcess, email: &str) -> (String, String) {
    let signed_up = http
        .post(replica.url("/api/auth/signup"))
        .json(&json!({ "email": email, "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    bearer_login(http, replica, email).await
}

async fn bearer_login(http: &Client, replica: &ServerProcess, email: &str) -> (String, String) {
    let body: Value = http
        .post(replica.url("/api/auth/login"))
        .json(&json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// How long until `replica` refuses `access` (401), polling every 5 ms.
async fn refused_after(http: &Client, replica: &ServerProcess, access: &str) -> Duration {
    let started = Instant::now();
    loop {
        let status = http
            .get(replica.url("/api/auth/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(5), "never refused");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A role taken away on replica A is refused on replica B within 1 s, 50
/// times over; then signing the user out everywhere on A ends the session
/// on B too. Prints the median and the longest time it took.
#[tokio::test]
async fn a_change_on_one_replica_is_refused_on_the_other_within_a_second() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let settings = [("PORTCULLIS_BOOTSTRAP_ADMIN", ADMIN)];
    let (a, b) = (
        ServerProcess::start(&database.url, &settings),
        ServerProcess::start(&database.url, &settings),
    );
    let http = client();
    let (admin, _) = bearer_signup(&http, &a, ADMIN).await;
    let (mut access, mut refresh) = bearer_signup(&http, &b, USER).await;
    let me: Value = http
        .get(b.url("/api/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_path = format!("/api/admin/users/{}", me["user"]["id"].as_str().unwrap());
    let created = http
        .post(a.url("/api/admin/roles"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "support", "permissions": ["users:read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let mut took = Vec::with_capacity(TRIES);
    for n in 0..TRIES {
        // Granted on even tries, taken away on odd ones: each a change.
        let roles = if n % 2 == 0 {
            json!(["support"])
        } else {
            json!([])
        };
        let changed = http
            .patch(a.url(&user_path))
            .bearer_auth(&admin)
            .json(&json!({ "roles": roles }))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
        took.push(refused_after(&http, &b, &access).await);
        let renewed: Value = http
            .post(b.url("/api/auth/refresh"))
            .json(&json!({ "refresh_token": refresh, "transport": "bearer" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        access = renewed["access_token"].as_str().unwrap().to_owned();
        refresh = renewed["refresh_token"].as_str().unwrap().to_owned();
    }
    took.sort();
    let (median, longest) = (took[TRIES / 2], took[TRIES - 1]);
    println!("refused on the other replica after: median {median:?}, longest {longest:?}");
    assert!(longest <= Duration::from_secs(1), "{longest:?}");

    let signed_out = http
        .post(a.url(&format!("{user_path}/sign-out")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    assert!(refused_after(&http, &b, &access).await <= Duration::from_secs(1));
    let refreshed = http
        .post(b.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": refresh, "transport": "bearer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 401);
}

/// Forward-auth on replica B for `access`, as nginx asks.
async fn gate(http: &Client, replica: &ServerProcess, access: &str) -> StatusCode {
    http.get(replica.url("/api/authz/auth-request"))
        .bearer_auth(access)
        .header("x-original-method", "GET")
        .header("x-original-url", "https://app.example.com/")
        .send()
        .await
        .unwrap()
        .status()
}

/// A session signed out on replica A is refused by forward-auth on
/// replica B within 1 s, 50 times over. Prints the median and the longest
/// time it took.
#[tokio::test]
async fn a_sign_out_on_one_replica_closes_the_gate_on_the_other_within_a_second() {
    let database = TestDatabase::create(Backend::Postgres).await;
    // One public URL, as replicas behind one load balancer have: tokens
    // from either are the other's.
    let settings = [
        ("PORTCULLIS_PUBLIC_URL", "http://auth.example.com"),
        ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
        ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "app.example.com"),
    ];
    let (a, b) = (
        ServerProcess::start(&database.url, &settings),
        ServerProcess::start(&database.url, &settings),
    );
    let http = client();
    bearer_signup(&http, &a, USER).await;
    let mut took = Vec::with_capacity(TRIES);
    for _ in 0..TRIES {
        let (access, refresh) = bearer_login(&http, &a, USER).await;
        // B knows the session: the gate passes it without a database read.
        assert_eq!(gate(&http, &b, &access).await, StatusCode::OK);
        assert_eq!(gate(&http, &b, &access).await, StatusCode::OK);
        let signed_out = http
            .post(a.url("/api/auth/logout"))
            .json(&json!({ "refresh_token": refresh }))
            .send()
            .await
            .unwrap();
        assert!(signed_out.status().is_success(), "{}", signed_out.status());
        let started = Instant::now();
        while gate(&http, &b, &access).await == StatusCode::OK {
            assert!(started.elapsed() < Duration::from_secs(5), "never refused");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(started.elapsed());
        assert_eq!(gate(&http, &b, &access).await, StatusCode::UNAUTHORIZED);
    }
    took.sort();
    let (median, longest) = (took[TRIES / 2], took[TRIES - 1]);
    println!(
        "forward-auth refused on the other replica after: median {median:?}, longest {longest:?}"
    );
    assert!(longest <= Duration::from_secs(1), "{longest:?}");
}
