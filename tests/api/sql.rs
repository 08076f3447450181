//! The tests' own look into a server's database: what was written, read
//! over connections of the test's, not through the crate's internals.

use sqlx::{
    postgres::{PgPoolOptions, PgRow},
    sqlite::{SqlitePoolOptions, SqliteRow},
    Decode, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Type,
};

pub enum TestSql {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A value both backends can decode.
pub trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A row both backends can decode.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> {}

impl TestSql {
    pub async fn open(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .expect("open the test's SQLite connection");
            Self::Sqlite(pool)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .expect("open the test's PostgreSQL connection");
            Self::Postgres(pool)
        }
    }

    /// The one value `sql` selects; `$1`, `$2`… are `args`, as text.
    pub async fn scalar<T>(&self, sql: &str, args: &[&str]) -> T
    where
        T: Column + Send + Unpin,
    {
        let result = match self {
            Self::Sqlite(pool) => {
                let mut query = sqlx::query_scalar(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_one(pool).await
            }
            Self::Postgres(pool) => {
                let mut query = sqlx::query_scalar(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_one(pool).await
            }
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of every row `sql` selects.
    pub async fn column<T>(&self, sql: &str) -> Vec<T>
    where
        T: Column + Send + Unpin,
    {
        let result = match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every row `sql` selects.
    pub async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: Row + Send + Unpin,
    {
        let result = match self {
            Self::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs `sql` for its effect; the error is the caller's to judge.
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Self::Postgres(pool) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}
