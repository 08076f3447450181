//! Roles: named sets of permissions, and who holds which. `user` is held
//! by everyone without a row; `admin` holds every permission whatever its
//! rows say (see `domain::grants`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{with_pool, with_tx, Db, WriteTx};

/// A role as stored: its name, description and permissions (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    /// How many users hold it by a row (`user` is held by everyone).
    pub holders: i64,
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    name: String,
    description: String,
    permissions: Option<String>,
    holders: i64,
}

impl From<RoleRow> for RoleRecord {
    fn from(row: RoleRow) -> Self {
        Self {
            name: row.name,
            description: row.description,
            permissions: split_list(row.permissions.as_deref()),
            holders: row.holders,
        }
    }
}

/// A list aggregated with `string_agg(…, ',')` (names never hold commas).
pub fn split_list(list: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = list
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    items.sort_unstable();
    items
}

const SELECT: &str = "SELECT r.name, r.description, \
    (SELECT string_agg(p.permission, ',') FROM role_permissions p WHERE p.role = r.name) \
      AS permissions, \
    (SELECT count(*) FROM user_roles ur WHERE ur.role = r.name) AS holders \
    FROM roles r";

pub async fn list(db: &Db) -> Result<Vec<RoleRecord>, sqlx::Error> {
    let sql = format!("{SELECT} ORDER BY r.name");
    let rows = with_pool!(db, |pool| sqlx::query_as::<_, RoleRow>(&sql)
        .fetch_all(pool)
        .await)?;
    Ok(rows.into_iter().map(RoleRecord::from).collect())
}

pub async fn find(db: &Db, name: &str) -> Result<Option<RoleRecord>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE r.name = $1");
    let row = with_pool!(db, |pool| sqlx::query_as::<_, RoleRow>(&sql)
        .bind(name)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(RoleRecord::from))
}

/// Whether a role is called `name`, read in `tx`.
pub async fn exists_in(tx: &mut WriteTx, name: &str) -> Result<bool, sqlx::Error> {
    Ok(permissions_in(tx, name).await?.is_some())
}

/// The permissions of the role called `name` (sorted), or `None` if there
/// is no such role; read in `tx`.
pub async fn permissions_in(
    tx: &mut WriteTx,
    name: &str,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let row: Option<(String, Option<String>)> = with_tx!(tx, |conn| sqlx::query_as(
        "SELECT r.name, (SELECT string_agg(p.permission, ',') FROM role_permissions p \
           WHERE p.role = r.name) FROM roles r WHERE r.name = $1"
    )
    .bind(name)
    .fetch_optional(conn)
    .await)?;
    Ok(row.map(|(_, permissions)| split_list(permissions.as_deref())))
}

/// Creates a role; `false` when one has that name already.
pub async fn insert_in(
    tx: &mut WriteTx,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = with_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO roles (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (name) DO NOTHING"
    )
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Replaces a role's description and permissions; `false` if there is no
/// such role.
pub async fn update_in(
    tx: &mut WriteTx,
    name: &str,
    description: &str,
    permissions: &[&str],
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let updated = with_tx!(tx, |conn| sqlx::query(
        "UPDATE roles SET description = $1, updated_at = $2 WHERE name = $3"
    )
    .bind(description)
    .bind(now)
    .bind(name)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Ok(false);
    }
    with_tx!(tx, |conn| sqlx::query(
        "DELETE FROM role_permissions WHERE role = $1"
    )
    .bind(name)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    for permission in permissions {
        with_tx!(tx, |conn| sqlx::query(
            "INSERT INTO role_permissions (role, permission) VALUES ($1, $2)"
        )
        .bind(name)
        .bind(*permission)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(true)
}

/// Deletes a role and every grant of it; `false` if there was none.
pub async fn delete_in(tx: &mut WriteTx, name: &str) -> Result<bool, sqlx::Error> {
    let deleted = with_tx!(tx, |conn| sqlx::query("DELETE FROM roles WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(deleted == 1)
}

/// Makes `roles` exactly the roles `user_id` holds by a row.
pub async fn set_for_user_in(
    tx: &mut WriteTx,
    user_id: Uuid,
    roles: &[&str],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "DELETE FROM user_roles WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    for role in roles {
        grant_in(tx, user_id, role, now).await?;
    }
    Ok(())
}

/// Grants `role` to `user_id`; `false` if they held it already.
pub async fn grant_in(
    tx: &mut WriteTx,
    user_id: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let granted = with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO user_roles (user_id, role, granted_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, role) DO NOTHING"
    )
    .bind(user_id)
    .bind(role)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(granted == 1)
}

/// Serialises every change to who holds what (grants, role definitions,
/// disabling and deleting users) by the lock on the `admin` role's row;
/// SQLite's write lock does already. Taken first, it keeps two such
/// changes from locking users and roles in opposite orders, and two
/// demotions at once from each counting the other admin still there.
pub async fn lock_admins_in(tx: &mut WriteTx) -> Result<(), sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE roles SET updated_at = updated_at WHERE name = 'admin'"
    )
    .execute(conn)
    .await
    .map(|_| ()))
}

/// Enabled users holding `admin`, in `tx` (after [`lock_admins_in`]).
pub async fn enabled_admins_in(tx: &mut WriteTx) -> Result<Vec<Uuid>, sqlx::Error> {
    with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         WHERE ur.role = 'admin' AND NOT u.disabled ORDER BY u.id"
    )
    .fetch_all(conn)
    .await)
}
