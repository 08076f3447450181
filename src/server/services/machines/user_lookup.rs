//! Server-to-server user lookup (seed S3): another backend, holding an API
//! key or a machine token with `users:read`, reads a user by id or email
//! and may cache the answer.

use uuid::Uuid;

use super::{
    super::{ServiceError, Services},
    Caller,
};
use crate::{
    model::{Permission, UserLookup},
    server::store::users::{self, UserRecord},
    validate::Email,
};

/// Which user to look up.
#[derive(Debug, Clone, Copy)]
pub enum UserKey<'a> {
    Id(Uuid),
    Email(&'a str),
}

impl Services<'_> {
    /// The user, for a caller holding `users:read`: 403 without it, 404
    /// for no such user.
    pub async fn look_up_user(
        &self,
        caller: &Caller,
        key: UserKey<'_>,
    ) -> Result<UserLookup, ServiceError> {
        if !caller.allows(Permission::UsersRead) {
            return Err(ServiceError::Forbidden);
        }
        let user = match key {
            UserKey::Id(id) => users::find_by_id(self.db, id).await?,
            // Every spelling of an address is one account; a malformed
            // one is no account.
            UserKey::Email(email) => match Email::parse(email) {
                Ok(email) => users::find_by_email(self.db, email.as_str()).await?,
                Err(_) => None,
            },
        };
        user.as_ref().map(lookup).ok_or(ServiceError::NotFound)
    }
}

fn lookup(user: &UserRecord) -> UserLookup {
    UserLookup {
        id: user.id.to_string(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        roles: user.grants().roles,
        attributes: user.attributes.0.clone(),
        disabled: user.disabled,
    }
}
