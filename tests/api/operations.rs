//! What operators run against the real binary: `/metrics` on its own
//! listener, with label values from fixed sets however hostile the
//! traffic; `portcullis healthcheck`; `portcullis check-login`.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use reqwest::{Client, Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, ServerProcess, TestDatabase, GOOD_PASSWORD};

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

async fn post_json(http: &Client, url: String, body: serde_json::Value) -> reqwest::Response {
    http.post(url).json(&body).send().await.unwrap()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A server process with its metrics listener on a port of the test's.
struct Metered {
    server: ServerProcess,
    metrics: String,
}

impl Metered {
    async fn start(database: &TestDatabase, overrides: &[(&str, &str)]) -> Self {
        let metrics_addr = format!("127.0.0.1:{}", free_port());
        let mut settings = vec![
            ("PORTCULLIS_METRICS_ADDR", metrics_addr.as_str()),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", "app.example.test"),
        ];
        settings.extend_from_slice(overrides);
        let server = ServerProcess::start(&database.url, &settings);
        Self {
            server,
            metrics: format!("http://{metrics_addr}/metrics"),
        }
    }

    /// Every sample: series (name and sorted labels) to value.
    async fn scrape(&self) -> BTreeMap<Series, f64> {
        let response = client().get(&self.metrics).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        parse(&response.text().await.unwrap())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
}

/// Reads Prometheus's text format (what this exporter writes of it).
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                (key.to_owned(), value.trim_end_matches('"').to_owned())
            })
            .collect();
        samples.insert(
            Series {
                name: name.to_owned(),
                labels,
            },
            value.parse().expect("a number"),
        );
    }
    samples
}

fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(series, _)| {
            series.name == name
                && labels
                    .iter()
                    .all(|(k, v)| series.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map_or(0.0, |(_, value)| *value)
}

/// The public port never serves metrics; the metrics port serves them, and
/// what a sign-up, a sign-in, a refresh, a forward-auth decision and a
/// failed sign-in did shows in them.
#[tokio::test]
async fn metrics_count_what_happened_on_their_own_listener_only() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let app = Metered::start(&database, &[]).await;
    let http = client();
    // The live-session gauge is counted as the server starts, then every
    // half minute: wait for that first count, before any session exists.
    let started = std::time::Instant::now();
    loop {
        let samples = app.scrape().await;
        let counted = ("task", "count live sessions");
        if value(
            &samples,
            "portcullis_job_runs_total",
            &[counted, ("outcome", "ok")],
        ) == 1.0
        {
            assert_eq!(value(&samples, "portcullis_live_sessions", &[]), 0.0);
            break;
        }
        assert!(started.elapsed().as_secs() < 10, "sessions never counted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let public = http.get(app.server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    assert!(!public
        .text()
        .await
        .unwrap()
        .contains("portcullis_http_requests_total"));

    let email = "metered@example.com";
    let signed_up = post_json(
        &http,
        app.server.url("/api/auth/signup"),
        json!({ "email": email, "password": GOOD_PASSWORD }),
    )
    .await;
    assert_eq!(signed_up.status(), 201);
    let login = post_json(
        &http,
        app.server.url("/api/auth/login"),
        json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }),
    )
    .await;
    assert_eq!(login.status(), 200);
    let tokens: serde_json::Value = login.json().await.unwrap();
    let wrong = post_json(
        &http,
        app.server.url("/api/auth/login"),
        json!({ "email": email, "password": "not-the-password-at-all" }),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let refreshed = post_json(
        &http,
        app.server.url("/api/auth/refresh"),
        json!({ "refresh_token": tokens["refresh_token"], "transport": "bearer" }),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let replayed = post_json(
        &http,
        app.server.url("/api/auth/refresh"),
        json!({ "refresh_token": tokens["refresh_token"], "transport": "bearer" }),
    )
    .await;
    // Within the grace window: the same successor again.
    assert_eq!(replayed.status(), 200);
    let gate = http
        .get(app.server.url("/api/authz/auth-request"))
        .header("X-Original-Method", "GET")
        .header("X-Original-URL", "https://app.example.test/")
        .send()
        .await
        .unwrap();
    assert_eq!(gate.status(), 401);
    // A machine's token request: a grant this server does not know, and a
    // client credentials one with a secret that is no key.
    for body in [
        "grant_type=password&username=a&password=b",
        "grant_type=client_credentials&client_id=x&client_secret=not-a-key",
    ] {
        let refused = http
            .post(app.server.url("/oauth2/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(refused.status().is_client_error(), "{body}");
    }

    let samples = app.scrape().await;
    let expect = |name: &str, labels: &[(&str, &str)], wanted: f64| {
        assert_eq!(value(&samples, name, labels), wanted, "{name} {labels:?}");
    };
    expect("portcullis_sign_ups_total", &[("outcome", "created")], 1.0);
    expect("portcullis_sign_ins_total", &[("outcome", "success")], 1.0);
    expect(
        "portcullis_sign_ins_total",
        &[("outcome", "bad_credentials")],
        1.0,
    );
    expect("portcullis_refreshes_total", &[("outcome", "rotated")], 1.0);
    expect("portcullis_refreshes_total", &[("outcome", "grace")], 1.0);
    expect(
        "portcullis_forward_auth_decisions_total",
        &[("outcome", "unauthenticated")],
        1.0,
    );
    expect(
        "portcullis_machine_tokens_total",
        &[("grant", "other"), ("outcome", "refused")],
        1.0,
    );
    expect(
        "portcullis_machine_tokens_total",
        &[("grant", "client_credentials"), ("outcome", "refused")],
        1.0,
    );
    expect(
        "portcullis_http_requests_total",
        &[
            ("route", "/api/auth/login"),
            ("method", "POST"),
            ("status", "2xx"),
        ],
        1.0,
    );
    expect(
        "portcullis_http_requests_total",
        &[
            ("route", "/api/auth/login"),
            ("method", "POST"),
            ("status", "4xx"),
        ],
        1.0,
    );
    expect(
        "portcullis_http_request_duration_seconds_count",
        &[("route", "/api/auth/refresh"), ("method", "POST")],
        2.0,
    );
    expect(
        "portcullis_http_request_duration_seconds_bucket",
        &[("route", "/api/auth/refresh"), ("le", "+Inf")],
        2.0,
    );
    // A sign-up and two sign-ins each got a hashing slot without waiting.
    expect("portcullis_hash_wait_seconds_count", &[], 3.0);
    expect("portcullis_hash_queue_depth", &[], 0.0);
    assert!(value(&samples, "portcullis_hash_slots", &[]) >= 1.0);
    expect("portcullis_db_pool_max_connections", &[], 5.0);
    assert!(
        value(
            &samples,
            "portcullis_db_pool_connections",
            &[("state", "idle")]
        ) >= 1.0
    );
    // Still the count from start-up: not recounted per request.
    expect("portcullis_live_sessions", &[], 0.0);
    expect(
        "portcullis_job_runs_total",
        &[("task", "count live sessions"), ("outcome", "ok")],
        1.0,
    );
    expect(
        "portcullis_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );

    let ready = http.get(app.server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let samples = app.scrape().await;
    assert_eq!(value(&samples, "portcullis_ready", &[]), 1.0);
    // Scrapes are not requests of the public port.
    assert!(!samples
        .keys()
        .any(|s| s.labels.get("route").map(String::as_str) == Some("/metrics")));
}

/// Made-up paths, methods, hosts and headers, twice with different
/// values: the second burst adds no series, and no label holds anything a
/// client sent.
#[tokio::test]
async fn hostile_requests_cannot_add_series() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let app = Metered::start(&database, &[]).await;

    let first = uuid::Uuid::new_v4().simple().to_string();
    hostile_burst(&app, &first).await;
    let after_first: BTreeSet<Series> = app.scrape().await.into_keys().collect();
    let second = uuid::Uuid::new_v4().simple().to_string();
    hostile_burst(&app, &second).await;
    let after_second: BTreeSet<Series> = app.scrape().await.into_keys().collect();

    let added: Vec<_> = after_second.difference(&after_first).collect();
    assert!(
        added.is_empty(),
        "series added by the second burst: {added:#?}"
    );
    for series in &after_second {
        for value in series.labels.values() {
            for marker in [&first, &second] {
                assert!(
                    !value.contains(&marker[..8]),
                    "client text in a label: {series:?}"
                );
            }
        }
    }
    let routes: BTreeSet<&str> = after_second
        .iter()
        .filter_map(|s| s.labels.get("route").map(String::as_str))
        .collect();
    let methods: BTreeSet<&str> = after_second
        .iter()
        .filter_map(|s| s.labels.get("method").map(String::as_str))
        .collect();
    println!("routes seen: {routes:?}\nmethods seen: {methods:?}");
    assert!(routes.contains("unmatched"), "{routes:?}");
    assert!(methods.contains("OTHER"), "{methods:?}");
    let http_series = after_second
        .iter()
        .filter(|s| s.name == "portcullis_http_requests_total")
        .count();
    println!("request series after two bursts: {http_series}");
}

/// One burst of nonsense, every request carrying `marker`.
async fn hostile_burst(app: &Metered, marker: &str) {
    let http = client();
    let paths = [
        format!("/{marker}"),
        format!("/api/{marker}"),
        format!("/api/auth/{marker}"),
        format!("/pkg/{marker}.wasm"),
        format!("/%2e%2e/%2e%2e/{marker}"),
        format!("/login/{marker}?next={marker}"),
        format!("/{marker}/{}", "a".repeat(1500)),
        format!("/api/authz/envoy/{marker}"),
        format!("/admin/users/{marker}"),
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::DELETE,
        Method::from_bytes(format!("X{}", &marker[..10]).to_uppercase().as_bytes()).unwrap(),
    ];
    for path in &paths {
        for method in &methods {
            let response = http
                .request(method.clone(), app.server.url(path))
                .header("Host", format!("{marker}.evil.example"))
                .header("X-Forwarded-For", "203.0.113.9")
                .header("X-Request-Id", marker)
                .header("User-Agent", marker)
                .header(
                    "X-Original-URL",
                    format!("https://{marker}.example/{marker}"),
                )
                .header("X-Original-Method", marker)
                .send()
                .await
                .unwrap();
            assert_ne!(response.status(), 500, "{method} {path}");
        }
    }
    for url in [
        format!("https://app.example.test/{marker}"),
        format!("https://{marker}.example.test/"),
        format!("javascript:{marker}"),
    ] {
        let response = http
            .get(app.server.url("/api/authz/auth-request"))
            .header("X-Original-Method", "GET")
            .header("X-Original-URL", url)
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 500);
    }
}

fn portcullis(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run the portcullis binary")
}

/// `portcullis healthcheck` asks the configured listen address: 0 while a
/// server answers there, 1 when none does.
#[tokio::test]
async fn the_healthcheck_subcommand_asks_the_configured_server() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = ServerProcess::start(&database.url, &[]);
    let addr = server.url("").trim_start_matches("http://").to_owned();

    let healthy = portcullis(&["healthcheck"], &[("PORTCULLIS_LISTEN_ADDR", &addr)]);
    assert!(healthy.status.success(), "{healthy:?}");

    let nobody = format!("127.0.0.1:{}", free_port());
    let unhealthy = portcullis(&["healthcheck"], &[("PORTCULLIS_LISTEN_ADDR", &nobody)]);
    assert_eq!(unhealthy.status.code(), Some(1), "{unhealthy:?}");
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy"));
}

/// The uptime check signs in, reads `me`, refreshes and signs out, and
/// leaves no live session; a wrong password fails it, naming the step and
/// never printing the password or a token.
#[tokio::test]
async fn check_login_walks_a_whole_session_and_fails_loudly() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let server = ServerProcess::start(&database.url, &[]);
    let email = "probe@example.com";
    let signed_up = post_json(
        &client(),
        server.url("/api/auth/signup"),
        json!({ "email": email, "password": GOOD_PASSWORD }),
    )
    .await;
    assert_eq!(signed_up.status(), 201);
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{GOOD_PASSWORD}\n")).unwrap();
    let url = server.url("");
    let password_path = password_file.to_str().unwrap();

    let passed = portcullis(
        &[
            "check-login",
            "--url",
            &url,
            "--email",
            email,
            "--password-file",
            password_path,
        ],
        &[],
    );
    let printed = String::from_utf8_lossy(&passed.stdout).into_owned();
    println!("{printed}");
    assert!(passed.status.success(), "{passed:?}");
    for step in ["sign-in", "me", "refresh", "sign-out", "all"] {
        assert!(
            printed
                .lines()
                .any(|l| l.starts_with(step) && l.ends_with(" ms ok")),
            "{step} in {printed}"
        );
    }
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The sign-up's own session, and none of the probe's.
    assert_eq!(live, 1);

    std::fs::write(&password_file, "not-the-password-at-all").unwrap();
    let failed = portcullis(
        &[
            "check-login",
            "--url",
            &url,
            "--email",
            email,
            "--password-file",
            password_path,
        ],
        &[],
    );
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(said.contains("sign-in") && said.contains("401"), "{said}");
    assert!(!said.contains("not-the-password") && !said.contains(GOOD_PASSWORD));

    let usage = portcullis(&["check-login", "--url", &url], &[]);
    assert_eq!(usage.status.code(), Some(2));
    pool.close().await;
}
