//! The store's transactions, against the real databases.

use chrono::{SubsecRound, Utc};
use portcullis::server::{
    domain::password_hash::StoredHash,
    store::{
        db::Db,
        users::{self, NewUser},
    },
};

use crate::helpers::{Backend, TestDatabase};
use crate::on_both_backends;
use crate::sql::TestSql;

on_both_backends!(
    a_write_tx_commits_all_its_writes,
    a_write_tx_dropped_before_commit_changes_nothing_and_holds_no_lock,
);

async fn with_a_user(backend: Backend) -> (TestDatabase, Db, uuid::Uuid) {
    let database = TestDatabase::create(backend).await;
    let db = Db::connect(&database.url, 2).await.unwrap();
    db.migrate().await.unwrap();
    let mut tx = db.write_tx().await.unwrap();
    let user = users::insert(
        &mut tx,
        NewUser {
            email: "tx@example.com",
            password_hash: &StoredHash("old".into()),
            display_name: "Tx",
        },
        Utc::now().trunc_subsecs(0),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (database, db, user.id)
}

async fn stored_hash(sql: &TestSql) -> String {
    sql.scalar(
        "SELECT password_hash FROM users WHERE email = $1",
        &["tx@example.com"],
    )
    .await
}

async fn a_write_tx_commits_all_its_writes(backend: Backend) {
    let (database, db, id) = with_a_user(backend).await;
    let sql = TestSql::open(&database.url).await;

    let mut tx = db.write_tx().await.unwrap();
    users::update_password_hash(&mut tx, id, &StoredHash("new".into()), Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(stored_hash(&sql).await, "new");
    sql.close().await;
    db.close().await;
}

async fn a_write_tx_dropped_before_commit_changes_nothing_and_holds_no_lock(backend: Backend) {
    let (database, db, id) = with_a_user(backend).await;
    let sql = TestSql::open(&database.url).await;

    let mut tx = db.write_tx().await.unwrap();
    users::update_password_hash(&mut tx, id, &StoredHash("new".into()), Utc::now())
        .await
        .unwrap();
    // A request abandoned half-way: the transaction is dropped, not ended.
    drop(tx);

    assert_eq!(stored_hash(&sql).await, "old");
    // Nothing still holds the row or the write lock: another writer gets
    // through well before its own lock wait runs out.
    let no_waiting = match backend {
        Backend::Sqlite => "PRAGMA busy_timeout = 2000",
        Backend::Postgres => "SET lock_timeout = '2s'",
    };
    sql.execute(no_waiting).await.unwrap();
    sql.execute("UPDATE users SET display_name = 'Other' WHERE email = 'tx@example.com'")
        .await
        .unwrap();
    // And the application's own writer works on.
    let mut tx = db.write_tx().await.unwrap();
    users::update_password_hash(&mut tx, id, &StoredHash("newer".into()), Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored_hash(&sql).await, "newer");
    sql.close().await;
    db.close().await;
}
