//! Defining roles: list, create, change, delete. `admin` holds every
//! permission and cannot be changed or deleted; `user` (everyone) cannot
//! be deleted, and its permissions are everyone's. A change to a role's
//! permissions moves every holder's authorization version on.

use serde_json::json;

use super::within_reach;
use crate::{
    model::{Permission, RoleDefinition, RoleInfo, RoleName, RolesResponse},
    server::{
        domain::events::EventType,
        services::machines::Acting,
        services::{ServiceError, Services},
        store::{
            roles::{self, RoleRecord},
            users,
        },
    },
};

/// The most characters a role's description holds.
const DESCRIPTION_MAX: usize = 200;

impl Services<'_> {
    /// Every role, and the catalogue of permissions. Anyone who may read
    /// users may read roles.
    pub async fn admin_roles(
        &self,
        principal: &impl Acting,
    ) -> Result<RolesResponse, ServiceError> {
        self.authorize_for(principal, Permission::UsersRead).await?;
        let everyone = users::count(self.db).await?;
        let roles = roles::list(self.db)
            .await?
            .into_iter()
            .map(|role| role_info(role, everyone))
            .collect();
        Ok(RolesResponse {
            roles,
            catalogue: Permission::ALL.to_vec(),
        })
    }

    pub async fn admin_create_role(
        &self,
        principal: &impl Acting,
        definition: &RoleDefinition,
    ) -> Result<RoleInfo, ServiceError> {
        let actor = self
            .authorize_for(principal, Permission::RolesWrite)
            .await?;
        let name = definition
            .name
            .as_deref()
            .and_then(RoleName::parse)
            .ok_or(ServiceError::InvalidRole)?;
        let (description, permissions) = parse_definition(definition)?;
        within_reach(&actor.grants(), permissions.iter().copied())?;
        let mut tx = self.db.write_tx().await?;
        roles::lock_admins_in(&mut tx).await?;
        if !roles::insert_in(&mut tx, name.as_str(), description, self.now).await? {
            tx.rollback().await?;
            return Err(ServiceError::RoleExists);
        }
        roles::update_in(&mut tx, name.as_str(), description, &permissions, self.now).await?;
        self.admin_event_in(
            &mut tx,
            &actor,
            EventType::RoleCreated,
            None,
            json!({ "role": name.as_str(), "permissions": permissions }),
        )
        .await?;
        tx.commit().await?;
        self.role_info(name.as_str()).await
    }

    pub async fn admin_update_role(
        &self,
        principal: &impl Acting,
        name: &str,
        definition: &RoleDefinition,
    ) -> Result<RoleInfo, ServiceError> {
        let actor = self
            .authorize_for(principal, Permission::RolesWrite)
            .await?;
        let name = RoleName::parse(name).ok_or(ServiceError::NotFound)?;
        if name.as_str() == RoleName::ADMIN {
            return Err(ServiceError::BuiltInRole);
        }
        if definition
            .name
            .as_deref()
            .is_some_and(|n| n != name.as_str())
        {
            // Renaming would silently change every holder's tokens' meaning.
            return Err(ServiceError::InvalidRole);
        }
        let (description, permissions) = parse_definition(definition)?;
        let actor_grants = actor.grants();
        // `user` is everyone's: only an administrator redefines it.
        if name.as_str() == RoleName::USER && !actor_grants.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let mut tx = self.db.write_tx().await?;
        roles::lock_admins_in(&mut tx).await?;
        // What it gave and what it will give must both be the actor's.
        let before = roles::permissions_in(&mut tx, name.as_str())
            .await?
            .unwrap_or_default();
        let reach = within_reach(
            &actor_grants,
            before
                .iter()
                .map(String::as_str)
                .chain(permissions.iter().copied()),
        );
        if let Err(refused) = reach {
            tx.rollback().await?;
            return Err(refused);
        }
        if !roles::update_in(&mut tx, name.as_str(), description, &permissions, self.now).await? {
            tx.rollback().await?;
            return Err(ServiceError::NotFound);
        }
        let holders =
            users::bump_authz_version_of_holders_in(&mut tx, name.as_str(), self.now).await?;
        self.admin_event_in(
            &mut tx,
            &actor,
            EventType::RoleUpdated,
            None,
            json!({ "role": name.as_str(), "permissions": permissions, "holders": holders }),
        )
        .await?;
        tx.commit().await?;
        self.role_info(name.as_str()).await
    }

    pub async fn admin_delete_role(
        &self,
        principal: &impl Acting,
        name: &str,
    ) -> Result<(), ServiceError> {
        let actor = self
            .authorize_for(principal, Permission::RolesWrite)
            .await?;
        let name = RoleName::parse(name).ok_or(ServiceError::NotFound)?;
        if name.is_builtin() {
            return Err(ServiceError::BuiltInRole);
        }
        let mut tx = self.db.write_tx().await?;
        roles::lock_admins_in(&mut tx).await?;
        let Some(before) = roles::permissions_in(&mut tx, name.as_str()).await? else {
            tx.rollback().await?;
            return Err(ServiceError::NotFound);
        };
        if let Err(refused) = within_reach(&actor.grants(), before.iter().map(String::as_str)) {
            tx.rollback().await?;
            return Err(refused);
        }
        let holders =
            users::bump_authz_version_of_holders_in(&mut tx, name.as_str(), self.now).await?;
        if !roles::delete_in(&mut tx, name.as_str()).await? {
            tx.rollback().await?;
            return Err(ServiceError::NotFound);
        }
        self.admin_event_in(
            &mut tx,
            &actor,
            EventType::RoleDeleted,
            None,
            json!({ "role": name.as_str(), "holders": holders }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn role_info(&self, name: &str) -> Result<RoleInfo, ServiceError> {
        let everyone = users::count(self.db).await?;
        roles::find(self.db, name)
            .await?
            .map(|role| role_info(role, everyone))
            .ok_or(ServiceError::NotFound)
    }
}

/// The description (trimmed, bounded) and the permissions (each in the
/// catalogue, sorted, without repeats) of a definition.
fn parse_definition(definition: &RoleDefinition) -> Result<(&str, Vec<&str>), ServiceError> {
    let description = definition.description.trim();
    if description.chars().count() > DESCRIPTION_MAX || description.chars().any(char::is_control) {
        return Err(ServiceError::InvalidRole);
    }
    let mut permissions = Vec::with_capacity(definition.permissions.len());
    for name in &definition.permissions {
        let permission = Permission::parse(name).ok_or(ServiceError::InvalidPermission)?;
        permissions.push(permission);
    }
    permissions.sort_unstable();
    permissions.dedup();
    Ok((
        description,
        permissions.into_iter().map(Permission::as_str).collect(),
    ))
}

fn role_info(role: RoleRecord, everyone: i64) -> RoleInfo {
    let built_in = RoleName::parse(&role.name).is_some_and(|n| n.is_builtin());
    let permissions = if role.name == RoleName::ADMIN {
        Permission::ALL.to_vec()
    } else {
        role.permissions
            .iter()
            .filter_map(|p| Permission::parse(p))
            .collect()
    };
    RoleInfo {
        holders: if role.name == RoleName::USER {
            everyone
        } else {
            role.holders
        },
        name: role.name,
        description: role.description,
        permissions,
        built_in,
    }
}
