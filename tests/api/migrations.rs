use portcullis::server::{
    startup::Application,
    store::db::{Db, POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT},
};

use crate::helpers::{test_config, Backend, TestDatabase};
use crate::on_both_backends;
use crate::sql::TestSql;

on_both_backends!(
    migrations_applied_twice_are_harmless,
    replicas_starting_at_once_all_come_up,
    schema_has_the_tables_later_features_need,
);

#[tokio::test]
async fn postgres_sessions_abandoned_in_a_transaction_are_ended() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let db = Db::connect(&database.url, 2).await.unwrap();

    let Db::Postgres(pool) = &db else {
        panic!("a PostgreSQL URL opens a PostgreSQL pool");
    };
    let timeout: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(timeout, POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT);
    db.close().await;
}

async fn migrations_applied_twice_are_harmless(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Db::connect(&database.url, 2).await.unwrap();

    db.migrate().await.unwrap();
    db.migrate().await.unwrap();

    let sql = TestSql::open(&database.url).await;
    let applied: i64 = sql
        .scalar("SELECT COUNT(*) FROM _sqlx_migrations", &[])
        .await;
    sql.close().await;
    let expected = std::fs::read_dir(format!(
        "migrations/{}",
        if database.backend() == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    ))
    .unwrap()
    .count() as i64;
    assert_eq!(applied, expected);
    db.close().await;
}

async fn replicas_starting_at_once_all_come_up(backend: Backend) {
    let database = TestDatabase::create(backend).await;

    let starts = (0..3).map(|_| Application::build(test_config(&database.url, &[])));
    let apps = futures::future::join_all(starts).await;

    for app in apps {
        let app = app.expect("every replica starts");
        app.db().ping().await.unwrap();
        app.db().close().await;
    }
}

async fn schema_has_the_tables_later_features_need(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = Db::connect(&database.url, 2).await.unwrap();
    db.migrate().await.unwrap();
    let sql = TestSql::open(&database.url).await;

    for (table, columns) in [
        (
            "users",
            "id, email, password_hash, display_name, role, disabled, created_at, updated_at",
        ),
        (
            "refresh_tokens",
            "id, family_id, user_id, token_hash, parent_id, successor_id, issued_at, expires_at, \
             rotated_at, revoked_at, user_agent, ip",
        ),
        (
            "audit_events",
            "id, event_type, user_id, ip, user_agent, outcome, details, created_at",
        ),
    ] {
        let rows: Vec<(i64,)> = sql
            .rows(&format!(
                "SELECT COUNT(*) FROM (SELECT {columns} FROM {table}) AS t"
            ))
            .await;
        assert_eq!(rows, [(0,)], "{table}");
    }
    // Dropped: upstream identities get a table of their own.
    let gone = sql.execute("SELECT external_user_id FROM users").await;
    assert!(gone.is_err(), "users.external_user_id still exists");
    sql.close().await;
    db.close().await;
}

/// Switching a new SQLite file to WAL needs its write lock, and SQLite
/// answers "database is locked" at once, without waiting out its busy
/// timeout, while another process holds that lock mid-creation (as when
/// replicas start together). Opening keeps trying instead of failing.
#[tokio::test]
async fn a_sqlite_file_locked_while_being_created_is_waited_for() {
    use sqlx::{
        sqlite::{SqliteConnectOptions, SqliteJournalMode},
        ConnectOptions, Connection,
    };
    use std::str::FromStr;

    let database = TestDatabase::create(Backend::Sqlite).await;
    let mut creator = SqliteConnectOptions::from_str(&database.url)
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut creator)
        .await
        .unwrap();

    let opening = tokio::spawn({
        let url = database.url.clone();
        async move { Db::connect(&url, 2).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("COMMIT").execute(&mut creator).await.unwrap();
    creator.close().await.unwrap();

    let db = opening
        .await
        .unwrap()
        .expect("opens once the other process lets go");
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
    db.close().await;
}
