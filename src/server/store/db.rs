//! The one place that knows which database backend is in use.
//!
//! Queries are written once, with `$N` placeholders that both SQLite and
//! PostgreSQL accept, and run through [`with_pool!`] (reads) or
//! [`with_writer!`] (writes), which expand the same code for whichever
//! backend the `DATABASE_URL` selected. Writes that must land together go
//! through [`Db::write_tx`]; the hottest (a refresh-token rotation) is one
//! statement (PostgreSQL) or one batch on the writer (SQLite) instead.

use std::{
    path::Path,
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use sqlx::{
    migrate::{MigrateError, Migrator},
    pool::PoolConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Database, PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool,
};

use crate::server::platform::env::{invalid, ConfigError, Env};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

// Pools do not ping a connection before handing it out: the profile of
// `make bench` showed that round trip on every query (a second trip to
// PostgreSQL, a second hop to the SQLite worker thread). A connection that
// died is found by the query that uses it, which fails once and drops it.

/// How long a request may wait for a pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// PostgreSQL ends a session left idle inside a transaction this long. No
/// code here idles in one; a transaction whose future was dropped does
/// (sqlx rolls it back only when the connection is next used) and would
/// hold its row locks until then.
pub const POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";

/// Which database, and how many connections to it.
#[derive(Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// `sqlite:…`, `postgres://…` or `postgresql://…`.
    pub url: String,
    pub max_connections: u32,
}

// By hand: a PostgreSQL URL may carry a password.
impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &without_password(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// `url` with any password (`user:pw@`, or `password=` in the query)
/// replaced by `***`.
fn without_password(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (url, None),
    };
    let query = query.map(|query| {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        format!("?{}", params.join("&"))
    });
    format!(
        "{}{}",
        without_userinfo_password(url),
        query.unwrap_or_default()
    )
}

fn without_userinfo_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

impl DbConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let url = env.string("DATABASE_URL", "sqlite://data/portcullis.db");
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return Err(invalid(
                "DATABASE_URL",
                "expected a sqlite:, postgres:// or postgresql:// URL",
            ));
        }
        Ok(Self {
            url,
            max_connections: env.number("PORTCULLIS_DB_MAX_CONNECTIONS", 10, 1..=1000)?,
        })
    }
}

/// What a pool holds now; see [`Db::usage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite lets one connection write at a time; the others wait in its busy
/// handler, which sleeps in steps of up to 100 ms. All writes of this
/// process therefore go through one connection, queued fairly by the pool,
/// and reads use the rest. (Other processes on the same file still meet
/// the busy handler.)
#[derive(Debug, Clone)]
pub struct SqlitePools {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqlitePools {
    pub fn reader(&self) -> &SqlitePool {
        &self.read
    }

    pub fn writer(&self) -> &SqlitePool {
        &self.write
    }

    /// The writer, for a batch that begins and commits its own transaction.
    pub async fn writer_for_batch(&self) -> Result<CloseUnlessFinished<Sqlite>, sqlx::Error> {
        Ok(CloseUnlessFinished::new(self.write.acquire().await?))
    }
}

/// A connection in the middle of work that must finish or not happen: a
/// batch that opens its own transaction, or a [`WriteTx`]. If the work
/// stops part-way (an error, or its future dropped because the client went
/// away), sqlx would hand the connection back to the pool inside the open
/// transaction: on SQLite taking every later write with it, on PostgreSQL
/// holding its row locks until the connection is next used. Closing the
/// connection instead rolls the transaction back at once.
pub struct CloseUnlessFinished<DB: Database> {
    conn: PoolConnection<DB>,
    finished: bool,
}

impl<DB: Database> CloseUnlessFinished<DB> {
    fn new(conn: PoolConnection<DB>) -> Self {
        Self {
            conn,
            finished: false,
        }
    }

    pub fn connection(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }

    /// The work ran to its end; the connection may be reused.
    pub fn finished(&mut self) {
        self.finished = true;
        note_write();
    }
}

impl<DB: Database> Drop for CloseUnlessFinished<DB> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// A transaction on the writer: every write made through it commits
/// together in [`WriteTx::commit`], or none does. Dropped before that (an
/// error returned early, the request abandoned), it rolls back by closing
/// its connection.
pub struct WriteTx {
    conn: TxConnection,
}

enum TxConnection {
    Sqlite(CloseUnlessFinished<Sqlite>),
    Postgres(CloseUnlessFinished<Postgres>),
}

/// The connection of a [`WriteTx`], for one statement.
pub enum TxConn<'t> {
    Sqlite(&'t mut SqliteConnection),
    Postgres(&'t mut PgConnection),
}

impl WriteTx {
    pub fn conn(&mut self) -> TxConn<'_> {
        match &mut self.conn {
            TxConnection::Sqlite(c) => TxConn::Sqlite(c.connection()),
            TxConnection::Postgres(c) => TxConn::Postgres(c.connection()),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    /// Undoes every write, keeping the connection for reuse (dropping the
    /// transaction would close it): for a refusal that changed its mind.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        match &mut self.conn {
            TxConnection::Sqlite(c) => {
                sqlx::query(statement).execute(c.connection()).await?;
                c.finished();
            }
            TxConnection::Postgres(c) => {
                sqlx::query(statement).execute(c.connection()).await?;
                c.finished();
            }
        }
        Ok(())
    }
}

/// Runs the same read against whichever backend `db` holds.
/// `$pool` is bound to `&SqlitePool` (a reader) or `&PgPool` in turn.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::server::store::db::Db::Sqlite(pools) => {
                let $pool = pools.reader();
                $body
            }
            $crate::server::store::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs the same statement on the connection of a [`WriteTx`]; `$conn` is
/// bound to `&mut SqliteConnection` or `&mut PgConnection` in turn.
macro_rules! with_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx.conn() {
            $crate::server::store::db::TxConn::Sqlite($conn) => $body,
            $crate::server::store::db::TxConn::Postgres($conn) => $body,
        }
    };
}

/// Runs the same write against whichever backend `db` holds.
/// `$conn` is bound to the SQLite writer pool or `&PgPool` in turn.
macro_rules! with_writer {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let written = match $db {
            $crate::server::store::db::Db::Sqlite(pools) => {
                let $conn = pools.writer();
                $body
            }
            $crate::server::store::db::Db::Postgres($conn) => $body,
        };
        $crate::server::store::db::note_write();
        written
    }};
}

/// Writes this process has ended (committed or not), counted so a reader
/// of cached state can tell whether its own process may have changed the
/// database since it last looked (see `authz_changes`). It is one count for
/// the process, not per database: a write to another only costs a look.
/// Every SQLite write passes here (the writer pool is reached only through
/// [`with_writer!`] and [`WriteTx`]); on PostgreSQL the writes that change
/// authorization do, and the rest reach other readers by `NOTIFY`.
static WRITES: AtomicU64 = AtomicU64::new(0);

pub fn writes_ended() -> u64 {
    WRITES.load(Ordering::Acquire)
}

#[doc(hidden)]
pub fn note_write() {
    WRITES.fetch_add(1, Ordering::AcqRel);
}

// For the table modules beside this one; nothing outside `store` runs SQL.
pub(crate) use {with_pool, with_tx, with_writer};

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
            let options = PgConnectOptions::from_str(url)
                .map_err(DbError::Connect)?
                .options([(
                    "idle_in_transaction_session_timeout",
                    POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT,
                )]);
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
        let pool = |size: u32| {
            SqlitePoolOptions::new()
                .max_connections(size)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(false)
        };
        // The writer first: it creates the file and switches it to WAL.
        let write = open_while_busy(pool(1), options.clone()).await?;
        let read = open_while_busy(pool(max_connections.max(1)), options).await?;
        Ok(Db::Sqlite(SqlitePools { read, write }))
    }

    /// Applies pending migrations. Safe when several replicas start at once:
    /// on PostgreSQL the migrator holds an advisory lock, and SQLite
    /// serialises writers on the file lock.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(pools) => {
                // sqlx takes no lock on SQLite, so two processes could both
                // see a migration as pending; a file lock beside the
                // database serialises them.
                let _guard = lock_migrations(pools.write.connect_options().get_filename()).await?;
                SQLITE_MIGRATIONS.run(&pools.write).await
            }
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .map_err(DbError::Migrate)
    }

    /// Begins a transaction on the writer (SQLite: `BEGIN IMMEDIATE`, so it
    /// holds the write lock from the start and cannot fail to upgrade).
    pub async fn write_tx(&self) -> Result<WriteTx, sqlx::Error> {
        let conn = match self {
            Db::Sqlite(pools) => {
                let mut conn = pools.writer_for_batch().await?;
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(conn.connection())
                    .await?;
                TxConnection::Sqlite(conn)
            }
            Db::Postgres(pool) => {
                let mut conn = CloseUnlessFinished::new(pool.acquire().await?);
                sqlx::query("BEGIN").execute(conn.connection()).await?;
                TxConnection::Postgres(conn)
            }
        };
        Ok(WriteTx { conn })
    }

    /// Like [`Db::write_tx`], for writes whose loss in a crash harms no
    /// one, such as attempt counters: on PostgreSQL its commit does not
    /// wait for the WAL flush (`synchronous_commit = off`, set with the
    /// `BEGIN`, before any row is locked). Others see the writes at once;
    /// a crash can lose at most their last few hundred milliseconds, and
    /// the next ordinary commit flushes them too. SQLite commits as usual.
    pub async fn write_tx_unflushed(&self) -> Result<WriteTx, sqlx::Error> {
        let Db::Postgres(pool) = self else {
            return self.write_tx().await;
        };
        let mut conn = CloseUnlessFinished::new(pool.acquire().await?);
        for statement in ["BEGIN", "SET LOCAL synchronous_commit = off"] {
            sqlx::query(statement).execute(conn.connection()).await?;
        }
        Ok(WriteTx {
            conn: TxConnection::Postgres(conn),
        })
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))
    }

    /// Connections open and in use, open and idle, and the most the pools
    /// may open (SQLite's reader and writer pools together).
    pub fn usage(&self) -> PoolUsage {
        let of = |pool_size: u32, idle: usize, max: u32| PoolUsage {
            in_use: pool_size.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX)),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        };
        match self {
            Db::Sqlite(pools) => {
                let read = of(
                    pools.read.size(),
                    pools.read.num_idle(),
                    pools.read.options().get_max_connections(),
                );
                let write = of(
                    pools.write.size(),
                    pools.write.num_idle(),
                    pools.write.options().get_max_connections(),
                );
                PoolUsage {
                    in_use: read.in_use + write.in_use,
                    idle: read.idle + write.idle,
                    max: read.max + write.max,
                }
            }
            Db::Postgres(pool) => of(
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pools) => {
                pools.read.close().await;
                pools.write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
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

/// How long startup keeps trying to open a SQLite file that is busy.
const OPEN_BUSY_DEADLINE: Duration = Duration::from_secs(10);

/// Opens a SQLite pool, trying again while the file is busy. Opening runs
/// `PRAGMA journal_mode = WAL`, which needs the write lock on a new file
/// and can get SQLITE_BUSY without SQLite consulting the busy timeout, as
/// when several replicas create the same file at once.
async fn open_while_busy(
    pool: SqlitePoolOptions,
    options: SqliteConnectOptions,
) -> Result<SqlitePool, DbError> {
    let deadline = tokio::time::Instant::now() + OPEN_BUSY_DEADLINE;
    let mut pause = Duration::from_millis(10);
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Ok(pool) => return Ok(pool),
            Err(err) if is_busy(&err) && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %err, "SQLite file busy while opening; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(err) => return Err(DbError::Connect(err)),
        }
    }
}

/// True for SQLITE_BUSY and its extended codes (the low byte is 5).
fn is_busy(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_password_never_prints() {
        let config = DbConfig {
            url: "postgres://app:s3cret-pw@db.internal:5432/auth?sslmode=require".into(),
            max_connections: 10,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(
            shown.contains("app:***@db.internal:5432/auth?sslmode=require"),
            "{shown}"
        );
        assert_eq!(
            without_password("postgres://db/auth?user=app&password=s3cret&sslmode=require"),
            "postgres://db/auth?user=app&password=***&sslmode=require"
        );
        assert_eq!(without_password("sqlite://data/p.db"), "sqlite://data/p.db");
    }
}
