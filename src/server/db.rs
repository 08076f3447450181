//! The one place that knows which database backend is in use.
//!
//! Queries are written once, with `$N` placeholders that both SQLite and
//! PostgreSQL accept, and run through [`with_pool!`], which expands the same
//! code for whichever pool the `DATABASE_URL` selected.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    PgPool, SqlitePool,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

// Pools do not ping a connection before handing it out: the profile of
// `make bench` showed that round trip on every query (a second trip to
// PostgreSQL, a second hop to the SQLite worker thread). A connection that
// died is found by the query that uses it, which fails once and drops it.

/// How long a request may wait for a pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool `db` holds.
/// `$pool` is bound to `&SqlitePool` or `&PgPool` in turn.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::server::db::Db::Sqlite($pool) => $body,
            $crate::server::db::Db::Postgres($pool) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not prepare the SQLite file {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("database connection failed: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[source] MigrateError),
}

impl Db {
    /// Opens a pool for `url`; the scheme picks the backend.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, max_connections).await
        } else {
            let options = PgConnectOptions::from_str(url).map_err(DbError::Connect)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            Ok(Db::Postgres(pool))
        }
    }

    async fn connect_sqlite(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(DbError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() && !is_memory(options.get_filename()) {
                std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Db::Sqlite(pool))
    }

    /// Applies pending migrations. Safe when several replicas start at once:
    /// on PostgreSQL the migrator holds an advisory lock, and SQLite
    /// serialises writers on the file lock.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(pool) => {
                // sqlx takes no lock on SQLite, so two processes could both
                // see a migration as pending; a file lock beside the
                // database serialises them.
                let _guard = lock_migrations(pool.connect_options().get_filename()).await?;
                SQLITE_MIGRATIONS.run(pool).await
            }
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .map_err(DbError::Migrate)
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))
    }

    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

/// Holds an exclusive lock on `<database>.migrate-lock` until dropped.
async fn lock_migrations(database: &Path) -> Result<Option<std::fs::File>, DbError> {
    if is_memory(database) {
        return Ok(None);
    }
    let mut lock_path = database.as_os_str().to_owned();
    lock_path.push(".migrate-lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    let display = lock_path.display().to_string();
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|join| std::io::Error::other(join.to_string()))
    .and_then(|inner| inner);
    locked.map(Some).map_err(|source| DbError::Directory {
        path: display,
        source,
    })
}

fn is_memory(path: &Path) -> bool {
    path.as_os_str() == ":memory:"
}

/// True when `err` is a unique-constraint violation, on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
