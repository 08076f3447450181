use std::collections::HashMap;

use portcullis::server::{config::Config, db::Db, startup::Application};
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

/// Configuration for a test server: port 0, the given database, and
/// whatever `overrides` sets.
pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("PORTCULLIS_LISTEN_ADDR".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), database_url.into()),
        ("PORTCULLIS_DB_MAX_CONNECTIONS".into(), "5".into()),
    ]);
    for (k, v) in overrides {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration")
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub database: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    init_test_logging();
    let database = TestDatabase::create(backend).await;
    let config = test_config(&database.url, overrides);
    let app = Application::build(config)
        .await
        .expect("application builds");
    let address = format!("http://{}", app.local_addr());
    let db = app.db().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client");
    TestApp {
        address,
        client,
        db,
        database,
    }
}

/// Logs are shown only when TEST_LOG is set, to keep test output readable.
fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let config = test_config("sqlite::memory:", &[]);
        portcullis::server::telemetry::init(&config);
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
