//! The admin console's calls: each one the same service as the admin JSON
//! API, with the same permission checks and audit events.

use std::collections::BTreeMap;

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
#[cfg(feature = "ssr")]
use crate::model::{AdminUserChange, RoleDefinition};

#[cfg(feature = "ssr")]
fn user_id(call: &Call, id: &str) -> Result<uuid::Uuid, AppFnError> {
    use crate::server::services::ServiceError;
    // A malformed id is as unknown as a deleted one.
    uuid::Uuid::parse_str(id).map_err(|_| call.refuse(ServiceError::NotFound))
}

#[cfg(feature = "ssr")]
async fn change_user(id: &str, change: AdminUserChange) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let id = user_id(&call, id)?;
    call.services()
        .admin_update_user(&principal, id, &change)
        .await
        .map_err(|e| call.refuse(e))?;
    Ok(())
}

/// Disables (`disabled = "true"`) or enables a user; disabling ends every
/// session of theirs.
#[server(prefix = "/api/auth/ui", endpoint = "admin-set-disabled")]
pub async fn admin_set_disabled(id: String, disabled: String) -> Result<(), AppFnError> {
    let change = AdminUserChange {
        disabled: Some(disabled == "true"),
        ..AdminUserChange::default()
    };
    change_user(&id, change).await
}

/// Exactly these roles, separated by commas or spaces (`user` is implied):
/// one text field, so a plain form post can send it.
#[server(prefix = "/api/auth/ui", endpoint = "admin-set-roles")]
pub async fn admin_set_roles(id: String, roles: String) -> Result<(), AppFnError> {
    let change = AdminUserChange {
        roles: Some(words(&roles)),
        ..AdminUserChange::default()
    };
    change_user(&id, change).await
}

/// Replaces every attribute with the `key=value` lines of `attributes`.
#[server(prefix = "/api/auth/ui", endpoint = "admin-set-attributes")]
pub async fn admin_set_attributes(id: String, attributes: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let parsed = parse_attributes(&attributes).map_err(|line| {
        call.refuse(crate::server::services::ServiceError::InvalidAttributes(
            format!("`{line}` is not a key=value line."),
        ))
    })?;
    let change = AdminUserChange {
        attributes: Some(parsed),
        ..AdminUserChange::default()
    };
    change_user(&id, change).await
}

/// The words of a list a person typed: split on commas and white space.
pub fn words(list: &str) -> Vec<String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `key=value` lines (blank lines skipped) as a map; the first bad line is
/// the error. The keys and sizes are the service's to judge.
pub fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, value)) => Ok((key.trim().to_owned(), value.trim().to_owned())),
            None => Err(line.chars().take(40).collect::<String>()),
        })
        .collect()
}

/// Ends every session of the user; answers how many.
#[server(prefix = "/api/auth/ui", endpoint = "admin-sign-out")]
pub async fn admin_sign_out(id: String) -> Result<u64, AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let id = user_id(&call, &id)?;
    call.services()
        .admin_sign_out_user(&principal, id)
        .await
        .map_err(|e| call.refuse(e))
}

/// Deletes the account; a plain form post must tick `confirm`, and is sent
/// on to the users list.
#[server(prefix = "/api/auth/ui", endpoint = "admin-delete-user")]
pub async fn admin_delete_user(id: String, confirm: Option<String>) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    if confirm.as_deref() != Some("yes") {
        return Err(
            call.refuse_with(crate::server::http::error::ApiError::bad_request(
                crate::model::ErrorCode::InvalidQuery,
                "Tick the box to confirm the deletion.",
            )),
        );
    }
    let id = user_id(&call, &id)?;
    call.services()
        .admin_delete_user(&principal, id)
        .await
        .map_err(|e| call.refuse(e))?;
    leptos_axum::redirect("/admin");
    Ok(())
}

/// Creates a role (`create` is `"true"`) or changes one's description and
/// permissions (separated by commas or spaces).
#[server(prefix = "/api/auth/ui", endpoint = "admin-save-role")]
pub async fn admin_save_role(
    name: String,
    description: String,
    permissions: String,
    create: String,
) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let services = call.services();
    let permissions = words(&permissions);
    let result = if create == "true" {
        let definition = RoleDefinition {
            name: Some(name),
            description,
            permissions,
        };
        services.admin_create_role(&principal, &definition).await
    } else {
        let definition = RoleDefinition {
            name: None,
            description,
            permissions,
        };
        services
            .admin_update_role(&principal, &name, &definition)
            .await
    };
    result.map(|_| ()).map_err(|e| call.refuse(e))
}

#[server(prefix = "/api/auth/ui", endpoint = "admin-delete-role")]
pub async fn admin_delete_role(name: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    call.services()
        .admin_delete_role(&principal, &name)
        .await
        .map_err(|e| call.refuse(e))
}
