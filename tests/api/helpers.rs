use std::collections::HashMap;

use std::sync::Arc;

use portcullis::server::{
    config::Config, credentials::password::HashCount, platform::clock::ManualClock,
    startup::Application, store::db::Db,
};
use serde_json::{json, Value};

use crate::sql::TestSql;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares `mod $name { sqlite, postgres }`, two tests that run the async
/// fn `$name(Backend)` once per database.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )+};
}

/// A database made for one test and removed after it.
pub struct TestDatabase {
    pub url: String,
    backend: Backend,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
                Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL").expect(
                    "TEST_DATABASE_URL must point at a PostgreSQL server for the postgres tests \
                     (make test sets postgres://postgres@127.0.0.1:5432/postgres)",
                );
                let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                Self {
                    url,
                    backend,
                    _dir: None,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Drops the PostgreSQL database now, cutting off its connections.
    pub async fn drop_now(&self) {
        if let Some((admin_url, name)) = &self.postgres {
            let mut admin = PgConnection::connect(admin_url)
                .await
                .expect("admin connection");
            admin
                .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                .await
                .expect("drop test database");
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, so clean up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..authority_end], name);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The environment of a test server: port 0, the given database, and
/// whatever `overrides` sets.
pub fn server_vars(database_url: &str, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("PORTCULLIS_LISTEN_ADDR".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), database_url.into()),
        ("PORTCULLIS_DB_MAX_CONNECTIONS".into(), "5".into()),
    ]);
    // EdDSA configurations bring their own key and refuse an HS256 secret.
    if !overrides.contains(&("PORTCULLIS_JWT_ALGORITHM", "EdDSA")) {
        vars.insert("PORTCULLIS_JWT_SECRET".into(), TEST_JWT_SECRET.into());
    }
    for (k, v) in overrides {
        vars.insert((*k).into(), (*v).into());
    }
    vars
}

pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let vars = server_vars(database_url, overrides);
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration")
}

/// The cookie names when not served over TLS.
pub const ACCESS: &str = "portcullis_access";
pub const REFRESH: &str = "portcullis_refresh";

/// The `error` code of an error body.
pub fn error_code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef-0123456789";
/// A password the strength estimator accepts.
pub const GOOD_PASSWORD: &str = "plinth-violet-forage-42";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The server's own database handle (to cut it off, say).
    pub db: Db,
    /// The test's own connection, to look at what the server wrote.
    pub sql: TestSql,
    pub database: TestDatabase,
    pub clock: Arc<ManualClock>,
    /// Password hashes the server has computed.
    pub hashes: HashCount,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A fresh client with its own cookie jar: another browser.
    pub fn new_client(&self) -> reqwest::Client {
        new_client()
    }

    pub async fn post_json(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// Signs up a new unique user with `client`; returns the email.
    pub async fn signup(&self, client: &reqwest::Client) -> String {
        self.signup_unique(client).await.0
    }

    /// Signs up a new unique user with `client`; returns the refresh token
    /// its cookie holds.
    pub async fn signup_for_refresh_token(&self, client: &reqwest::Client) -> String {
        let (_, response) = self.signup_unique(client).await;
        let cookie = set_cookie(&response, "portcullis_refresh").expect("refresh cookie");
        cookie_value(&cookie)
    }

    async fn signup_unique(&self, client: &reqwest::Client) -> (String, reqwest::Response) {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        let response = self
            .post_json(
                client,
                "/api/auth/signup",
                &json!({ "email": email, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), 201, "signup of {email}");
        (email, response)
    }

    pub async fn login(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.post_json(
            client,
            "/api/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs up a new user, then signs in as a bearer client (tokens in
    /// the body, no cookies).
    pub async fn bearer_session(&self) -> BearerSession {
        let email = self.signup(&self.new_client()).await;
        self.bearer_login(&email).await
    }

    /// Signs `email` in again as a bearer client: another session.
    pub async fn bearer_login(&self, email: &str) -> BearerSession {
        let response = self
            .post_json(
                &self.new_client(),
                "/api/auth/login",
                &json!({ "email": email, "password": GOOD_PASSWORD, "transport": "bearer" }),
            )
            .await;
        assert_eq!(response.status(), 200, "bearer sign-in of {email}");
        let body: Value = response.json().await.unwrap();
        BearerSession {
            email: email.to_owned(),
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Refreshes `refresh_token` as a bearer client.
    pub async fn bearer_refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            &self.new_client(),
            "/api/auth/refresh",
            &json!({ "refresh_token": refresh_token, "transport": "bearer" }),
        )
        .await
    }

    /// `method` on `path` with `Authorization: Bearer <access>`.
    pub async fn with_bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        access: &str,
    ) -> reqwest::Response {
        self.new_client()
            .request(method, self.url(path))
            .bearer_auth(access)
            .json(&json!({}))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn me(&self, client: &reqwest::Client) -> reqwest::Response {
        client
            .get(self.url("/api/auth/me"))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn refresh(&self, client: &reqwest::Client) -> reqwest::Response {
        client
            .post(self.url("/api/auth/refresh"))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }
}

/// A signed-in bearer client's tokens.
#[derive(Debug, Clone)]
pub struct BearerSession {
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// The claims of a JWT, read without checking it.
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let database = TestDatabase::create(backend).await;
    spawn_app_on(database, overrides).await
}

/// Starts a server on an existing test database (a restart, a replica).
pub async fn spawn_app_on(database: TestDatabase, overrides: &[(&str, &str)]) -> TestApp {
    init_test_logging();
    let config = test_config(&database.url, overrides);
    let clock = ManualClock::starting_now();
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("application builds");
    let address = format!("http://{}", app.local_addr());
    let db = app.db().clone();
    let hashes = app.hashes_computed();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        client: new_client(),
        db,
        sql: TestSql::open(&database.url).await,
        database,
        clock,
        hashes,
    }
}

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client")
}

/// Every Set-Cookie header of a response.
pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The Set-Cookie header for cookie `name`, if any.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// The value a Set-Cookie header assigns.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// Logs are shown only when TEST_LOG is set, to keep test output readable.
fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let config = test_config("sqlite::memory:", &[]);
        portcullis::server::platform::telemetry::init(config.log_format).expect("RUST_LOG parses");
    }
}

#[test]
fn replace_database_keeps_credentials_host_and_query() {
    assert_eq!(
        replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        replace_database("postgres://u:p@h/db?sslmode=disable", "y"),
        "postgres://u:p@h/y?sslmode=disable"
    );
    assert_eq!(replace_database("postgres://h:1", "z"), "postgres://h:1/z");
}

/// The real `portcullis` binary, serving on a port of its choosing until
/// dropped: what a second replica is.
pub struct ServerProcess {
    child: std::process::Child,
    address: String,
}

impl ServerProcess {
    pub fn start(database_url: &str, overrides: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};

        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command
            .env_clear()
            .envs(server_vars(database_url, overrides))
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        let mut child = command.spawn().expect("start the portcullis binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (found, address) = std::sync::mpsc::channel();
        // Reads the log until the listening line, then keeps draining it so
        // the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(sender) = found.as_ref() {
                    let listening = serde_json::from_str::<Value>(&line)
                        .ok()
                        .filter(|v| v["fields"]["message"] == "portcullis listening")
                        .and_then(|v| v["fields"]["addr"].as_str().map(str::to_owned));
                    if let Some(addr) = listening {
                        let _ = sender.send(addr);
                        found = None;
                    }
                }
            }
        });
        let addr = address
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the binary reports its address");
        Self {
            child,
            address: format!("http://{addr}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The process id, to signal it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash or an OOM kill would: nothing drains. Returns
    /// once the process is gone (its listening port is free again).
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as an orchestrator stopping a replica, then waits for the
    /// process to exit by itself (at most `within`) and returns how it
    /// exited; `None` if it had not by then (it is left running).
    pub async fn terminate(
        &mut self,
        within: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        // The `kill` command rather than libc: this crate denies unsafe code.
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(signalled.success(), "kill -TERM {}", self.pid());
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return Some(status);
            }
            if started.elapsed() > within {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` holds, which a change written behind the server's
/// back (another process, the test's own SQL) must make true within a
/// second: that is how long a server's view of sessions may lag.
pub async fn within_a_second<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() <= std::time::Duration::from_secs(1),
            "not seen within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
