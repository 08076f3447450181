//! API keys, stored only as their SHA-256: a person's own (`pk`) or a
//! service account's (`sk`).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::db::{with_pool, with_tx, with_writer, Db, WriteTx};

/// A key as its owner sees it: everything but the hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: Uuid,
    pub prefix: String,
    /// `pk` or `sk`.
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub name: String,
    /// `None`: all of its account's permissions.
    pub scopes: Option<Json<Vec<String>>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "k.id, k.prefix, k.kind, k.user_id, k.account_id, k.name, k.scopes, \
    k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.revoked_at";

pub struct NewKey<'a> {
    pub id: Uuid,
    pub hash: &'a [u8],
    pub prefix: &'a str,
    pub kind: &'a str,
    pub user_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub name: &'a str,
    pub scopes: Option<&'a [String]>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert_in(tx: &mut WriteTx, new: &NewKey<'_>) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO api_keys \
         (id, key_hash, prefix, kind, user_id, account_id, name, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(new.id)
    .bind(new.hash)
    .bind(new.prefix)
    .bind(new.kind)
    .bind(new.user_id)
    .bind(new.account_id)
    .bind(new.name)
    .bind(new.scopes.map(Json))
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// A key found by its hash, with what its use depends on: its account
/// (for `sk` keys) and whose permissions cap it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyAndAccount {
    #[sqlx(flatten)]
    pub key: KeyRecord,
    pub key_hash: Vec<u8>,
    pub account_kind: Option<String>,
    pub account_permissions: Option<Json<Vec<String>>>,
    pub account_disabled: Option<bool>,
    /// The person behind the key: its user, or its account's owner.
    pub owner_id: Option<Uuid>,
}

const WITH_ACCOUNT: &str = "k.key_hash, a.kind AS account_kind, \
    a.permissions AS account_permissions, a.disabled AS account_disabled, \
    COALESCE(k.user_id, a.owner_id) AS owner_id \
    FROM api_keys k LEFT JOIN service_accounts a ON a.id = k.account_id";

/// The unrevoked key with this hash.
pub async fn find_by_hash(db: &Db, hash: &[u8]) -> Result<Option<KeyAndAccount>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS}, {WITH_ACCOUNT} WHERE k.key_hash = $1 AND k.revoked_at IS NULL");
    with_pool!(db, |pool| sqlx::query_as::<_, KeyAndAccount>(&sql)
        .bind(hash)
        .fetch_optional(pool)
        .await)
}

/// The unrevoked key with this id.
pub async fn find_by_id(db: &Db, id: Uuid) -> Result<Option<KeyAndAccount>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS}, {WITH_ACCOUNT} WHERE k.id = $1 AND k.revoked_at IS NULL");
    with_pool!(db, |pool| sqlx::query_as::<_, KeyAndAccount>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// Whose unrevoked keys to list.
#[derive(Debug, Clone, Copy)]
pub enum Holder {
    User(Uuid),
    Account(Uuid),
}

/// The holder's unrevoked keys, newest first.
pub async fn list(db: &Db, holder: Holder) -> Result<Vec<KeyRecord>, sqlx::Error> {
    let (column, id) = match holder {
        Holder::User(id) => ("user_id", id),
        Holder::Account(id) => ("account_id", id),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys k WHERE k.{column} = $1 AND k.revoked_at IS NULL \
         ORDER BY k.created_at DESC, k.id DESC LIMIT 100"
    );
    with_pool!(db, |pool| sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(id)
        .fetch_all(pool)
        .await)
}

/// The account's keys that still work at `now`, counted in `tx`.
pub async fn count_live_in(
    tx: &mut WriteTx,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)"
    )
    .bind(account_id)
    .bind(now)
    .fetch_one(conn)
    .await)
}

/// Revokes the holder's key `id`; false when the holder has no such live key.
pub async fn revoke(
    db: &Db,
    holder: Holder,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (column, holder_id) = match holder {
        Holder::User(id) => ("user_id", id),
        Holder::Account(id) => ("account_id", id),
    };
    let sql = format!(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND {column} = $3 AND revoked_at IS NULL"
    );
    with_writer!(db, |pool| sqlx::query(&sql)
        .bind(now)
        .bind(id)
        .bind(holder_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))
}

/// Notes a use, unless another replica noted one since `noted_since`: at
/// most one write per key a minute, whatever the traffic.
pub async fn note_use(
    db: &Db,
    id: Uuid,
    ip: Option<&str>,
    now: DateTime<Utc>,
    noted_since: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 \
         WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $4)"
    )
    .bind(now)
    .bind(ip)
    .bind(id)
    .bind(noted_since)
    .execute(pool)
    .await
    .map(|_| ()))
}
