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
    existing_sign_ins_become_sessions_and_keep_their_state,
    an_admin_by_the_old_column_stays_one_and_audit_rows_outlive_their_user,
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
            "id, email, password_hash, display_name, disabled, created_at, updated_at, \
             attributes, authz_version",
        ),
        ("roles", "name, description, created_at, updated_at"),
        ("role_permissions", "role, permission"),
        ("user_roles", "user_id, role, granted_at"),
        (
            "refresh_tokens",
            "id, family_id, user_id, token_hash, parent_id, successor_id, issued_at, expires_at, \
             rotated_at, seal, user_agent, ip",
        ),
        (
            "sessions",
            "id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip",
        ),
        (
            "audit_events",
            "id, event_type, user_id, ip, user_agent, outcome, details, created_at, actor_id",
        ),
    ] {
        let rows: Vec<(i64,)> = sql
            .rows(&format!(
                "SELECT COUNT(*) FROM (SELECT {columns} FROM {table}) AS t"
            ))
            .await;
        let expected = if table == "roles" { 2 } else { 0 };
        assert_eq!(rows, [(expected,)], "{table}");
    }
    // Roles are rows of their own; `user` and `admin` are built in.
    let gone = sql.execute("SELECT role FROM users").await;
    assert!(gone.is_err(), "users.role still exists");
    let built_in: Vec<String> = sql.column("SELECT name FROM roles ORDER BY name").await;
    assert_eq!(built_in, ["admin", "user"]);
    // Dropped: upstream identities get a table of their own.
    let gone = sql.execute("SELECT external_user_id FROM users").await;
    assert!(gone.is_err(), "users.external_user_id still exists");
    // Revocation lives on the session, and only there.
    let gone = sql.execute("SELECT revoked_at FROM refresh_tokens").await;
    assert!(gone.is_err(), "refresh_tokens.revoked_at still exists");
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

/// Applies the project's migrations before `version` to `url`, as an older
/// release left the database.
async fn migrate_before(backend: Backend, url: &str, version: i64) {
    let dir = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut migrator = sqlx::migrate::Migrator::new(path).await.unwrap();
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// Sign-ins made before sessions had a table carry over: each family is
/// one session, revoked if it was, described by its newest token.
async fn existing_sign_ins_become_sessions_and_keep_their_state(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    migrate_before(backend, &database.url, 4).await;
    let sql = TestSql::open(&database.url).await;
    let (user, live, revoked) = (
        "00000000-0000-0000-0000-00000000000a",
        "00000000-0000-0000-0000-0000000000f1",
        "00000000-0000-0000-0000-0000000000f2",
    );
    let sql_of = match backend {
        // UUIDs are 16-byte blobs on SQLite.
        Backend::Sqlite => Literals {
            id: |u| format!("X'{}'", u.replace('-', "")),
            time: |t| format!("'{t}'"),
            bytes: |hex| format!("X'{hex}'"),
        },
        Backend::Postgres => Literals {
            id: |u| format!("'{u}'::uuid"),
            time: |t| format!("'{t}'::timestamptz"),
            bytes: |hex| format!("decode('{hex}', 'hex')"),
        },
    };
    let (id, time) = (sql_of.id, sql_of.time);
    let statements = [
        format!(
            "INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) \
             VALUES ({}, 'old@example.com', 'x', 'Old', {t}, {t})",
            id(user),
            t = time("2026-11-01T00:00:00Z"),
        ),
        // A live family of two tokens, the second from another device...
        token_row(
            &sql_of,
            1,
            live,
            user,
            None,
            "2026-11-20T10:00:00Z",
            None,
            "Firefox",
            "198.51.100.1",
        ),
        token_row(
            &sql_of,
            2,
            live,
            user,
            Some(1),
            "2026-11-21T10:00:00Z",
            None,
            "Safari",
            "198.51.100.2",
        ),
        // ...and a revoked one.
        token_row(
            &sql_of,
            3,
            revoked,
            user,
            None,
            "2026-11-22T10:00:00Z",
            Some("2026-11-23T10:00:00Z"),
            "Edge",
            "198.51.100.3",
        ),
    ];
    for statement in &statements {
        sql.execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    let db = Db::connect(&database.url, 2).await.unwrap();
    db.migrate().await.unwrap();

    let rows: Vec<(String, String, Option<String>)> = sql
        .rows(
            "SELECT user_agent, ip, CASE WHEN revoked_at IS NULL THEN NULL ELSE 'revoked' END \
             FROM sessions ORDER BY user_agent",
        )
        .await;
    assert_eq!(
        rows,
        [
            (
                "Edge".to_owned(),
                "198.51.100.3".to_owned(),
                Some("revoked".to_owned())
            ),
            ("Safari".to_owned(), "198.51.100.2".to_owned(), None),
        ]
    );
    let tokens: i64 = sql.scalar("SELECT COUNT(*) FROM refresh_tokens", &[]).await;
    assert_eq!(tokens, 3, "no token was lost");
    sql.close().await;
    db.close().await;
}

/// How each backend writes a literal of a kind.
/// The single `role` column becomes rows (an `admin` stays one, `user` is
/// implied), and an account's audit events now outlive it, under its id.
async fn an_admin_by_the_old_column_stays_one_and_audit_rows_outlive_their_user(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    migrate_before(backend, &database.url, 5).await;
    let sql = TestSql::open(&database.url).await;
    type Literal = fn(&str) -> String;
    let (id, time): (Literal, Literal) = match backend {
        Backend::Sqlite => (
            |u| format!("X'{}'", u.replace('-', "")),
            |t| format!("'{t}'"),
        ),
        Backend::Postgres => (
            |u| format!("'{u}'::uuid"),
            |t| format!("'{t}'::timestamptz"),
        ),
    };
    let t = time("2026-11-01T00:00:00Z");
    let (admin, plain) = (
        "00000000-0000-0000-0000-0000000000a1",
        "00000000-0000-0000-0000-0000000000b2",
    );
    for statement in [
        format!(
            "INSERT INTO users (id, email, password_hash, display_name, role, created_at, updated_at) \
             VALUES ({}, 'admin@example.com', 'x', 'Admin', 'admin', {t}, {t}), \
                    ({}, 'plain@example.com', 'x', 'Plain', 'user', {t}, {t})",
            id(admin),
            id(plain),
        ),
        format!(
            "INSERT INTO audit_events (event_type, user_id, outcome, created_at) \
             VALUES ('login', {}, 'success', {t})",
            id(plain),
        ),
    ] {
        sql.execute(&statement).await.unwrap();
    }

    let db = Db::connect(&database.url, 2).await.unwrap();
    db.migrate().await.unwrap();

    let admins: Vec<String> = sql
        .column(
            "SELECT u.email FROM users u JOIN user_roles ur ON ur.user_id = u.id \
             WHERE ur.role = 'admin'",
        )
        .await;
    assert_eq!(admins, ["admin@example.com"]);
    let rows: i64 = sql.scalar("SELECT count(*) FROM user_roles", &[]).await;
    assert_eq!(rows, 1, "`user` is implied, not a row");

    sql.execute("DELETE FROM users WHERE email = 'plain@example.com'")
        .await
        .unwrap();
    let kept: Vec<i64> = sql
        .column(&format!(
            "SELECT count(*) FROM audit_events WHERE user_id = {}",
            id(plain)
        ))
        .await;
    assert_eq!(kept, [1]);
    sql.close().await;
    db.close().await;
}

struct Literals {
    id: fn(&str) -> String,
    time: fn(&str) -> String,
    bytes: fn(&str) -> String,
}

/// An INSERT of a refresh token as the schema before sessions held it;
/// `n` numbers the token, `parent` its parent.
#[allow(clippy::too_many_arguments)]
fn token_row(
    sql_of: &Literals,
    n: u8,
    family: &str,
    user: &str,
    parent: Option<u8>,
    issued: &str,
    revoked: Option<&str>,
    agent: &str,
    ip: &str,
) -> String {
    let token_id = |n: u8| (sql_of.id)(&format!("00000000-0000-0000-0000-0000000000{n:02}"));
    format!(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, parent_id, issued_at, \
         expires_at, rotated_at, revoked_at, user_agent, ip) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, NULL, {}, '{agent}', '{ip}')",
        token_id(n),
        (sql_of.id)(family),
        (sql_of.id)(user),
        (sql_of.bytes)(&format!("{n:064x}")),
        parent.map_or("NULL".to_owned(), token_id),
        (sql_of.time)(issued),
        (sql_of.time)("2026-12-30T00:00:00Z"),
        revoked.map_or("NULL".to_owned(), sql_of.time),
    )
}
