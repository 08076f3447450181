//! Finding users: the list with search and paging, and one user in full.

use chrono::DateTime;
use uuid::Uuid;

use super::{admin_user, decode_cursor, encode_cursor, page_size, plain_term};
use crate::{
    model::{AdminUserDetail, AdminUserPage, Permission},
    server::{
        services::machines::Acting,
        services::{rfc3339, ServiceError, Services},
        store::{
            audit,
            users::{self, Position},
        },
    },
};

impl Services<'_> {
    /// Users whose email or display name starts with `query`, newest
    /// first, a page at a time.
    pub async fn admin_list_users(
        &self,
        principal: &impl Acting,
        query: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<AdminUserPage, ServiceError> {
        self.authorize_for(principal, Permission::UsersRead).await?;
        let query = plain_term("q", query)?;
        let after = cursor.map(parse_position).transpose()?;
        let limit = page_size(limit);
        // One more than asked says whether there is a next page.
        let mut found = users::search(self.db, query.trim(), after, limit + 1).await?;
        let next_cursor = if found.len() as i64 > limit {
            found.truncate(limit as usize);
            found.last().map(|u| {
                let nanos = u.created_at.timestamp_nanos_opt().unwrap_or_default();
                encode_cursor(&format!("{nanos}|{}", u.id.simple()))
            })
        } else {
            None
        };
        Ok(AdminUserPage {
            users: found.iter().map(admin_user).collect(),
            next_cursor,
        })
    }

    /// One user with their permissions, attributes, sessions and activity.
    pub async fn admin_user(
        &self,
        principal: &impl Acting,
        user_id: Uuid,
    ) -> Result<AdminUserDetail, ServiceError> {
        self.authorize_for(principal, Permission::UsersRead).await?;
        self.user_detail(user_id).await
    }

    /// One user in full, for whoever was authorized to see or change them
    /// (after a change to themselves, their own token is stale).
    pub(super) async fn user_detail(&self, user_id: Uuid) -> Result<AdminUserDetail, ServiceError> {
        let user = users::find_by_id(self.db, user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let last_sign_in_at = audit::last_sign_in(self.db, user.id).await?;
        Ok(AdminUserDetail {
            user: admin_user(&user),
            permissions: user.grants().permissions,
            attributes: user.attributes.0.clone(),
            last_sign_in_at: last_sign_in_at.map(rfc3339),
            sessions: self.live_sessions(user.id, None).await?,
            activity: self.recent_activity(user.id).await?,
        })
    }
}

/// `nanos|uuid`, as `admin_list_users` wrote it: the exact time, so the
/// store's equality test matches the row it came from.
fn parse_position(cursor: &str) -> Result<Position, ServiceError> {
    let text = decode_cursor(cursor)?;
    let (nanos, id) = text.split_once('|').ok_or(ServiceError::InvalidCursor)?;
    let created_at = nanos
        .parse::<i64>()
        .map(DateTime::from_timestamp_nanos)
        .map_err(|_| ServiceError::InvalidCursor)?;
    let id = Uuid::parse_str(id).map_err(|_| ServiceError::InvalidCursor)?;
    Ok(Position { created_at, id })
}
