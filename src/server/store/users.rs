//! The users table.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use sqlx::types::Json;

use super::{
    db::{with_pool, with_tx, with_writer, Db, WriteTx},
    roles::split_list,
};
use crate::{
    model::Permission,
    server::domain::{
        grants::{Attributes, Grants},
        password_hash::StoredHash,
    },
};

#[derive(Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attributes: Json<Attributes>,
    /// Moves whenever the user's roles, attributes, disabled flag or
    /// password change: a token carrying an older one is stale.
    pub authz_version: i64,
    /// The roles held by a row, and the permissions of those and of
    /// `user`, as aggregated lists: see [`UserRecord::grants`].
    held_roles: Option<String>,
    role_permissions: Option<String>,
}

// By hand, so the password hash can never be printed.
impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field("authz_version", &self.authz_version)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    pub fn stored_hash(&self) -> Option<StoredHash> {
        self.password_hash.clone().map(StoredHash)
    }

    /// The record with these roles and permissions: for one read without
    /// them ([`JOINED_COLUMNS_WITHOUT_GRANTS`]) by a caller that knows them,
    /// as from an access token whose version is the user's current one.
    pub fn with_grants(mut self, roles: &[String], permissions: &[Permission]) -> Self {
        self.held_roles = Some(roles.join(","));
        self.role_permissions = Some(
            permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        self
    }

    /// The user's roles and permissions.
    pub fn grants(&self) -> Grants {
        let held = split_list(self.held_roles.as_deref());
        let permissions = split_list(self.role_permissions.as_deref());
        Grants::new(
            held.iter().map(String::as_str),
            permissions.iter().map(String::as_str),
        )
    }
}

/// A user's own columns read as `{table}`, each as `{prefix}{column}`,
/// with a trailing comma: the grant columns follow.
macro_rules! own_user_columns {
    ($t:literal, $prefix:literal) => {
        own_user_columns!(@ $t, $prefix; id, email, password_hash, display_name, disabled,
            created_at, updated_at, attributes, authz_version)
    };
    (@ $t:literal, $prefix:literal; $($column:ident),+) => {
        concat!($($t, ".", stringify!($column), " AS ", $prefix, stringify!($column), ", "),+)
    };
}

/// The columns of a user read as `{table}`: its own, then its roles and
/// their permissions aggregated (names never hold commas).
macro_rules! user_columns {
    ($t:literal, $prefix:literal) => {
        concat!(
            own_user_columns!($t, $prefix),
            "(SELECT string_agg(ur.role, ',') FROM user_roles ur WHERE ur.user_id = ",
            $t,
            ".id) AS ",
            $prefix,
            "held_roles, ",
            "(SELECT string_agg(rp.permission, ',') FROM role_permissions rp \
              WHERE rp.role = 'user' OR rp.role IN \
              (SELECT ur.role FROM user_roles ur WHERE ur.user_id = ",
            $t,
            ".id)) AS ",
            $prefix,
            "role_permissions"
        )
    };
}

/// Like `user_columns!`, without reading the grants (they come back NULL):
/// for [`UserRecord::with_grants`], when the caller knows them already.
macro_rules! user_columns_without_grants {
    ($t:literal, $prefix:literal) => {
        concat!(
            own_user_columns!($t, $prefix),
            "CAST(NULL AS TEXT) AS ",
            $prefix,
            "held_roles, CAST(NULL AS TEXT) AS ",
            $prefix,
            "role_permissions"
        )
    };
}

const COLUMNS: &str = user_columns!("users", "");

/// The user's columns in a join with another table, as `u.* AS u_*`.
pub const JOINED_COLUMNS: &str = user_columns!("u", "u_");

/// [`JOINED_COLUMNS`] but the grants, which take two aggregates to read:
/// a record read so must get them from [`UserRecord::with_grants`].
pub const JOINED_COLUMNS_WITHOUT_GRANTS: &str = user_columns_without_grants!("u", "u_");

/// A user read through [`JOINED_COLUMNS`]; flatten it into the join's row.
#[derive(sqlx::FromRow)]
pub struct JoinedUser {
    u_id: Uuid,
    u_email: String,
    u_password_hash: Option<String>,
    u_display_name: String,
    u_disabled: bool,
    u_created_at: DateTime<Utc>,
    u_updated_at: DateTime<Utc>,
    u_attributes: Json<Attributes>,
    u_authz_version: i64,
    u_held_roles: Option<String>,
    u_role_permissions: Option<String>,
}

impl From<JoinedUser> for UserRecord {
    fn from(u: JoinedUser) -> Self {
        Self {
            id: u.u_id,
            email: u.u_email,
            password_hash: u.u_password_hash,
            display_name: u.u_display_name,
            disabled: u.u_disabled,
            created_at: u.u_created_at,
            updated_at: u.u_updated_at,
            attributes: u.u_attributes,
            authz_version: u.u_authz_version,
            held_roles: u.u_held_roles,
            role_permissions: u.u_role_permissions,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("email already registered")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a StoredHash,
    pub display_name: &'a str,
}

pub async fn insert(
    tx: &mut WriteTx,
    new: NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<UserRecord, InsertUserError> {
    let sql = format!(
        "INSERT INTO users (id, email, password_hash, display_name, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
    );
    let result = with_tx!(tx, |conn| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(Uuid::new_v4())
        .bind(new.email)
        .bind(&new.password_hash.0)
        .bind(new.display_name)
        .bind(false)
        .bind(now)
        .fetch_one(conn)
        .await);
    result.map_err(|e| {
        if super::db::is_unique_violation(&e) {
            InsertUserError::EmailTaken
        } else {
            InsertUserError::Database(e)
        }
    })
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    with_pool!(db, |pool| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(email)
        .fetch_optional(pool)
        .await)
}

pub async fn update_display_name(
    db: &Db,
    id: Uuid,
    display_name: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_writer!(db, |pool| sqlx::query(
        "UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3"
    )
    .bind(display_name)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// Replaces the password hash, inside `tx`: a password change commits
/// together with what it ends.
pub async fn update_password_hash(
    tx: &mut WriteTx,
    id: Uuid,
    hash: &StoredHash,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3"
    )
    .bind(&hash.0)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// The user with `email`, read in `tx`.
pub async fn find_by_email_in(
    tx: &mut WriteTx,
    email: &str,
) -> Result<Option<UserRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    with_tx!(tx, |conn| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(email)
        .fetch_optional(conn)
        .await)
}

/// Moves the user's authorization version on, in `tx` with the change
/// that calls for it: tokens made before it are stale from its commit.
pub async fn bump_authz_version_in(
    tx: &mut WriteTx,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET authz_version = authz_version + 1, updated_at = $1 WHERE id = $2"
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// Where a page of [`search`] starts: after this user, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Users whose email or display name starts with `prefix` (any case),
/// newest first, after `after`; at most `limit`. Keyset paging: a page
/// never repeats or skips a user because others signed up meanwhile.
pub async fn search(
    db: &Db,
    prefix: &str,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<UserRecord>, sqlx::Error> {
    // Both sides lowered by the database: SQLite folds ASCII only and
    // PostgreSQL by its locale, but each agrees with itself.
    let pattern = format!("{}%", escape_like(prefix));
    let sql = format!(
        "SELECT {COLUMNS} FROM users \
         WHERE (lower(email) LIKE lower($1) ESCAPE '\\' \
                OR lower(display_name) LIKE lower($1) ESCAPE '\\') \
           AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    with_pool!(db, |pool| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(&pattern)
        .bind(after.map(|p| p.created_at))
        .bind(after.map(|p| p.id))
        .bind(limit)
        .fetch_all(pool)
        .await)
}

/// `%`, `_` and `\` match themselves in a LIKE pattern with `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub async fn find_by_id(db: &Db, id: Uuid) -> Result<Option<UserRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    with_pool!(db, |pool| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// The user with `id`, read in `tx`.
pub async fn find_by_id_in(tx: &mut WriteTx, id: Uuid) -> Result<Option<UserRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    with_tx!(tx, |conn| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await)
}

/// What an administrator may change on a user; `None` leaves it be.
#[derive(Debug, Default)]
pub struct AdminFields<'a> {
    pub disabled: Option<bool>,
    pub attributes: Option<&'a Attributes>,
    pub display_name: Option<&'a str>,
}

/// Writes the fields given, in `tx`.
pub async fn update_admin_fields_in(
    tx: &mut WriteTx,
    id: Uuid,
    fields: &AdminFields<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET disabled = COALESCE($1, disabled), \
         attributes = COALESCE($2, attributes), display_name = COALESCE($3, display_name), \
         updated_at = $4 WHERE id = $5"
    )
    .bind(fields.disabled)
    .bind(fields.attributes.map(Json))
    .bind(fields.display_name)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// Moves on the authorization version of every holder of `role` (of
/// everyone, for `user`), in `tx` with the change to the role.
pub async fn bump_authz_version_of_holders_in(
    tx: &mut WriteTx,
    role: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET authz_version = authz_version + 1, updated_at = $1 \
         WHERE $2 = 'user' OR id IN (SELECT user_id FROM user_roles WHERE role = $2)"
    )
    .bind(now)
    .bind(role)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))
}

/// Deletes the account; its sessions, tokens and role grants go with it
/// (the foreign keys cascade), its audit events stay. `false` if none.
pub async fn delete_in(tx: &mut WriteTx, id: Uuid) -> Result<bool, sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected() == 1))
}

/// How many accounts there are.
pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await)
}

#[cfg(test)]
mod tests {
    use super::{COLUMNS, JOINED_COLUMNS_WITHOUT_GRANTS};

    #[test]
    fn column_lists_name_every_field_once() {
        assert!(COLUMNS.starts_with("users.id AS id, users.email AS email, "));
        assert!(COLUMNS.contains("users.authz_version AS authz_version, (SELECT"));
        assert!(JOINED_COLUMNS_WITHOUT_GRANTS.starts_with("u.id AS u_id, "));
        assert!(JOINED_COLUMNS_WITHOUT_GRANTS.ends_with(
            "u.authz_version AS u_authz_version, CAST(NULL AS TEXT) AS u_held_roles, \
             CAST(NULL AS TEXT) AS u_role_permissions"
        ));
    }
}
