//! Changing a user: roles, attributes, the disabled flag and the display
//! name; signing them out everywhere; deleting them. Every change that
//! alters what the user may do moves their authorization version on, so
//! tokens made before it are refused (stale) at once.

use std::collections::BTreeSet;

use serde_json::json;
use uuid::Uuid;

use super::{may_act_on, within_reach};
use crate::{
    model::{AdminUserChange, AdminUserDetail, Permission, RoleName},
    server::{
        domain::{
            events::EventType,
            grants::{check_attributes, Attributes},
        },
        services::machines::Acting,
        services::{ServiceError, Services},
        store::{
            db::WriteTx,
            roles, sessions,
            users::{self, AdminFields, UserRecord},
        },
    },
    validate::DisplayName,
};

impl Services<'_> {
    /// Applies `change` to the user, all of it or none. Roles, attributes
    /// and the display name need `users:write`, the disabled flag
    /// `users:disable`.
    /// Disabling ends every session at once.
    pub async fn admin_update_user(
        &self,
        principal: &impl Acting,
        user_id: Uuid,
        change: &AdminUserChange,
    ) -> Result<AdminUserDetail, ServiceError> {
        let writes = change.roles.is_some()
            || change.attributes.is_some()
            || change.display_name.is_some()
            || change.disabled.is_none();
        let mut needed = Vec::with_capacity(2);
        if writes {
            needed.push(Permission::UsersWrite);
        }
        if change.disabled.is_some() {
            needed.push(Permission::UsersDisable);
        }
        let actor = self.authorize_for_all(principal, &needed).await?;
        let display_name = change
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?;
        let roles = change.roles.as_deref().map(parse_roles).transpose()?;
        if let Some(attributes) = &change.attributes {
            check_attributes(attributes)
                .map_err(|e| ServiceError::InvalidAttributes(e.to_string()))?;
        }

        let mut tx = self.db.write_tx().await?;
        roles::lock_admins_in(&mut tx).await?;
        let Some(user) = users::find_by_id_in(&mut tx, user_id).await? else {
            tx.rollback().await?;
            return Err(ServiceError::NotFound);
        };
        let actor_grants = actor.grants();
        if let Err(refused) = may_act_on(&actor_grants, &user) {
            tx.rollback().await?;
            return Err(refused);
        }
        let mut changed = serde_json::Map::new();
        if let Some(roles) = &roles {
            let before: BTreeSet<String> = user.grants().roles.into_iter().collect();
            let after: BTreeSet<String> = roles.iter().cloned().collect();
            for role in roles {
                if !roles::exists_in(&mut tx, role).await? {
                    tx.rollback().await?;
                    return Err(ServiceError::InvalidRole);
                }
            }
            // Granting or taking away a role hands out or takes away its
            // permissions: only those the actor holds (admin: all).
            for role in before.symmetric_difference(&after) {
                if role == RoleName::USER {
                    continue;
                }
                let permissions = if role == RoleName::ADMIN {
                    vec![RoleName::ADMIN.to_owned()]
                } else {
                    roles::permissions_in(&mut tx, role)
                        .await?
                        .unwrap_or_default()
                };
                if let Err(refused) =
                    within_reach(&actor_grants, permissions.iter().map(String::as_str))
                {
                    tx.rollback().await?;
                    return Err(refused);
                }
            }
            let held: Vec<&str> = roles.iter().map(String::as_str).collect();
            roles::set_for_user_in(&mut tx, user.id, &held, self.now).await?;
            changed.insert("roles".into(), json!(roles));
        }
        let fields = AdminFields {
            disabled: change.disabled,
            attributes: change.attributes.as_ref(),
            display_name: display_name.as_ref().map(DisplayName::as_str),
        };
        users::update_admin_fields_in(&mut tx, user.id, &fields, self.now).await?;
        if let Some(disabled) = change.disabled {
            changed.insert("disabled".into(), json!(disabled));
        }
        if let Some(attributes) = &change.attributes {
            changed.insert("attribute_keys".into(), json!(attribute_keys(attributes)));
        }
        if display_name.is_some() {
            changed.insert("display_name".into(), json!(true));
        }
        let authority_changed =
            roles.is_some() || change.attributes.is_some() || change.disabled.is_some();
        if authority_changed {
            users::bump_authz_version_in(&mut tx, user.id, self.now).await?;
        }
        if change.disabled == Some(true) {
            let ended = sessions::revoke_all_but_in(&mut tx, user.id, None, self.now).await?;
            changed.insert("sessions_revoked".into(), json!(ended));
        }
        self.keep_an_admin_in(&mut tx, &user).await?;
        self.admin_event_in(
            &mut tx,
            &actor,
            EventType::UserUpdated,
            Some(user.id),
            changed.into(),
        )
        .await?;
        tx.commit().await?;
        self.user_detail(user.id).await
    }

    /// Ends every session of the user; returns how many.
    pub async fn admin_sign_out_user(
        &self,
        principal: &impl Acting,
        user_id: Uuid,
    ) -> Result<u64, ServiceError> {
        let actor = self
            .authorize_for(principal, Permission::SessionsRevoke)
            .await?;
        let mut tx = self.db.write_tx().await?;
        let Some(user) = users::find_by_id_in(&mut tx, user_id).await? else {
            tx.rollback().await?;
            return Err(ServiceError::NotFound);
        };
        if let Err(refused) = may_act_on(&actor.grants(), &user) {
            tx.rollback().await?;
            return Err(refused);
        }
        let ended = sessions::revoke_all_but_in(&mut tx, user_id, None, self.now).await?;
        self.admin_event_in(
            &mut tx,
            &actor,
            EventType::SignedOutByAdmin,
            Some(user_id),
            json!({ "sessions_revoked": ended }),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Deletes the account with its sessions; its audit events stay, under
    /// its id. Not the last enabled administrator.
    pub async fn admin_delete_user(
        &self,
        principal: &impl Acting,
        user_id: Uuid,
    ) -> Result<(), ServiceError> {
        let actor = self
            .authorize_for(principal, Permission::UsersWrite)
            .await?;
        let mut tx = self.db.write_tx().await?;
        roles::lock_admins_in(&mut tx).await?;
        let Some(user) = users::find_by_id_in(&mut tx, user_id).await? else {
            tx.rollback().await?;
            return Err(ServiceError::NotFound);
        };
        if let Err(refused) = may_act_on(&actor.grants(), &user) {
            tx.rollback().await?;
            return Err(refused);
        }
        users::delete_in(&mut tx, user.id).await?;
        self.keep_an_admin_in(&mut tx, &user).await?;
        self.admin_event_in(
            &mut tx,
            &actor,
            EventType::AccountDeleted,
            Some(user.id),
            json!({ "email_domain": email_domain(&user.email) }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refuses (`LastAdmin`) if `user` was an enabled administrator and,
    /// after what `tx` changed, none is left. Call after
    /// [`roles::lock_admins_in`] and the change.
    pub(in crate::server::services) async fn keep_an_admin_in(
        &self,
        tx: &mut WriteTx,
        user: &UserRecord,
    ) -> Result<(), ServiceError> {
        let was_admin = user.grants().is_admin() && !user.disabled;
        if was_admin && roles::enabled_admins_in(tx).await?.is_empty() {
            return Err(ServiceError::LastAdmin);
        }
        Ok(())
    }
}

/// Role names as given: valid, without repeats; `user` (implied) dropped.
fn parse_roles(given: &[String]) -> Result<Vec<String>, ServiceError> {
    let mut roles = Vec::with_capacity(given.len());
    for name in given {
        let role = RoleName::parse(name).ok_or(ServiceError::InvalidRole)?;
        if role.as_str() != RoleName::USER {
            roles.push(role.as_str().to_owned());
        }
    }
    roles.sort_unstable();
    roles.dedup();
    Ok(roles)
}

fn attribute_keys(attributes: &Attributes) -> Vec<&str> {
    attributes.keys().map(String::as_str).collect()
}

/// Enough to tell deleted accounts apart in the log without keeping the
/// address of someone who asked to be forgotten.
fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
}
