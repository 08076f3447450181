//! Service accounts and agents: principals that are not people, each
//! owned by the user who registered it.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::db::{with_pool, with_tx, with_writer, Db, WriteTx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    /// `service` or `agent`.
    pub kind: String,
    pub description: String,
    /// Permission names, as granted; what counts is their intersection
    /// with what the owner holds now.
    pub permissions: Json<Vec<String>>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, owner_id, name, kind, description, permissions, disabled, created_at, updated_at";

pub struct NewAccount<'a> {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub permissions: &'a [String],
    pub at: DateTime<Utc>,
}

/// Fails with a unique violation when the owner has one of that name.
pub async fn insert_in(tx: &mut WriteTx, new: &NewAccount<'_>) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO service_accounts \
         (id, owner_id, name, kind, description, permissions, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7)"
    )
    .bind(new.id)
    .bind(new.owner_id)
    .bind(new.name)
    .bind(new.kind)
    .bind(new.description)
    .bind(Json(new.permissions))
    .bind(new.at)
    .execute(conn)
    .await
    .map(|_| ()))
}

pub async fn find(db: &Db, id: Uuid) -> Result<Option<AccountRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM service_accounts WHERE id = $1");
    with_pool!(db, |pool| sqlx::query_as::<_, AccountRecord>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// The owner's accounts, or every account when `owner` is `None`; newest
/// first.
pub async fn list(db: &Db, owner: Option<Uuid>) -> Result<Vec<AccountRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM service_accounts \
         WHERE $1 IS NULL OR owner_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1000"
    );
    with_pool!(db, |pool| sqlx::query_as::<_, AccountRecord>(&sql)
        .bind(owner)
        .fetch_all(pool)
        .await)
}

/// What may change on an account; `None` leaves it be.
#[derive(Debug, Default)]
pub struct AccountChange<'a> {
    pub description: Option<&'a str>,
    pub disabled: Option<bool>,
    pub permissions: Option<&'a [String]>,
}

/// False when there is no such account.
pub async fn update(
    db: &Db,
    id: Uuid,
    change: &AccountChange<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE service_accounts SET \
         description = COALESCE($1, description), \
         disabled = COALESCE($2, disabled), \
         permissions = COALESCE($3, permissions), \
         updated_at = $4 WHERE id = $5"
    )
    .bind(change.description)
    .bind(change.disabled)
    .bind(change.permissions.map(Json))
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Deletes the account and, by cascade, its keys; false when there was none.
pub async fn delete(db: &Db, id: Uuid) -> Result<bool, sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM service_accounts WHERE id = $1"
    )
    .bind(id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1))
}
