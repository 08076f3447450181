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
