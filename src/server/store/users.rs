//! The users table.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{with_pool, with_tx, with_writer, Db, WriteTx};
use crate::server::domain::password_hash::StoredHash;

pub const DEFAULT_ROLE: &str = "user";

#[derive(Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// By hand, so the password hash can never be printed.
impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    pub fn stored_hash(&self) -> Option<StoredHash> {
        self.password_hash.clone().map(StoredHash)
    }
}

const COLUMNS: &str =
    "id, email, password_hash, display_name, role, disabled, created_at, updated_at";

/// The user's columns in a join with another table, as `u.* AS u_*`.
pub const JOINED_COLUMNS: &str = "u.id AS u_id, u.email AS u_email, \
    u.password_hash AS u_password_hash, u.display_name AS u_display_name, u.role AS u_role, \
    u.disabled AS u_disabled, u.created_at AS u_created_at, u.updated_at AS u_updated_at";

/// A user read through [`JOINED_COLUMNS`]; flatten it into the join's row.
#[derive(sqlx::FromRow)]
pub struct JoinedUser {
    u_id: Uuid,
    u_email: String,
    u_password_hash: Option<String>,
    u_display_name: String,
    u_role: String,
    u_disabled: bool,
    u_created_at: DateTime<Utc>,
    u_updated_at: DateTime<Utc>,
}

impl From<JoinedUser> for UserRecord {
    fn from(u: JoinedUser) -> Self {
        Self {
            id: u.u_id,
            email: u.u_email,
            password_hash: u.u_password_hash,
            display_name: u.u_display_name,
            role: u.u_role,
            disabled: u.u_disabled,
            created_at: u.u_created_at,
            updated_at: u.u_updated_at,
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
        "INSERT INTO users (id, email, password_hash, display_name, role, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
    );
    let result = with_tx!(tx, |conn| sqlx::query_as::<_, UserRecord>(&sql)
        .bind(Uuid::new_v4())
        .bind(new.email)
        .bind(&new.password_hash.0)
        .bind(new.display_name)
        .bind(DEFAULT_ROLE)
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
