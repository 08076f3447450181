//! The admin console's forms: each the same service as the admin JSON API,
//! with the same permission checks and audit events. The forms are plain
//! HTML form posts (no WASM), so each call ends in a redirect: back to
//! its page, with the refusal in the URL when there is one.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
#[cfg(feature = "ssr")]
use crate::{
    model::{AdminUserChange, ErrorCode, RoleDefinition},
    server::{http::error::ApiError, services::ServiceError},
};

/// The console's page of user `id`.
pub fn user_page(id: &str) -> String {
    format!("/admin/users/{id}")
}

pub const ROLES_PAGE: &str = "/admin/roles";

#[cfg(feature = "ssr")]
fn user_id(id: &str) -> Result<uuid::Uuid, ServiceError> {
    // A malformed id is as unknown as a deleted one.
    uuid::Uuid::parse_str(id).map_err(|_| ServiceError::NotFound)
}

/// Applies `change` to user `id`, then goes back to their page.
#[cfg(feature = "ssr")]
async fn change_user<S: leptos::server_fn::ServerFn>(
    id: &str,
    change: Result<AdminUserChange, ServiceError>,
) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let page = user_page(id);
    let result = match (user_id(id), change) {
        (Ok(user), Ok(change)) => call
            .services()
            .admin_update_user(&principal, user, &change)
            .await
            .map(|_| ()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    result.map_err(|e| call.refuse_form::<S>(e, &page, None))?;
    leptos_axum::redirect(&page);
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
    change_user::<AdminSetDisabled>(&id, Ok(change)).await
}

/// Exactly these roles, separated by commas or spaces (`user` is implied).
#[server(prefix = "/api/auth/ui", endpoint = "admin-set-roles")]
pub async fn admin_set_roles(id: String, roles: String) -> Result<(), AppFnError> {
    let change = AdminUserChange {
        roles: Some(words(&roles)),
        ..AdminUserChange::default()
    };
    change_user::<AdminSetRoles>(&id, Ok(change)).await
}

/// Replaces every attribute with the `key=value` lines of `attributes`.
#[server(prefix = "/api/auth/ui", endpoint = "admin-set-attributes")]
pub async fn admin_set_attributes(id: String, attributes: String) -> Result<(), AppFnError> {
    let change = parse_attributes(&attributes)
        .map(|attributes| AdminUserChange {
            attributes: Some(attributes),
            ..AdminUserChange::default()
        })
        .map_err(|line| {
            ServiceError::InvalidAttributes(format!("`{line}` is not a key=value line."))
        });
    change_user::<AdminSetAttributes>(&id, change).await
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
pub fn parse_attributes(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, value)) => Ok((key.trim().to_owned(), value.trim().to_owned())),
            None => Err(line.chars().take(40).collect::<String>()),
        })
        .collect()
}

/// Ends every session of the user.
#[server(prefix = "/api/auth/ui", endpoint = "admin-sign-out")]
pub async fn admin_sign_out(id: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let page = user_page(&id);
    let result = match user_id(&id) {
        Ok(user) => call.services().admin_sign_out_user(&principal, user).await,
        Err(e) => Err(e),
    };
    result.map_err(|e| call.refuse_form::<AdminSignOut>(e, &page, None))?;
    leptos_axum::redirect(&page);
    Ok(())
}

/// Deletes the account once `confirm` is ticked, then goes to the list.
#[server(prefix = "/api/auth/ui", endpoint = "admin-delete-user")]
pub async fn admin_delete_user(id: String, confirm: Option<String>) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let page = user_page(&id);
    if confirm.as_deref() != Some("yes") {
        return Err(call.refuse_form_with::<AdminDeleteUser>(unconfirmed(), &page, None));
    }
    let result = match user_id(&id) {
        Ok(user) => call.services().admin_delete_user(&principal, user).await,
        Err(e) => Err(e),
    };
    result.map_err(|e| call.refuse_form::<AdminDeleteUser>(e, &page, None))?;
    leptos_axum::redirect("/admin");
    Ok(())
}

/// A deletion whose confirmation box was not ticked.
#[cfg(feature = "ssr")]
pub(super) fn unconfirmed() -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidQuery,
        "Tick the box to confirm the deletion.",
    )
}

/// Creates a role (`create` given) or changes one's description and
/// permissions: the form's ticked `permissions[]` boxes.
#[server(prefix = "/api/auth/ui", endpoint = "admin-save-role")]
pub async fn admin_save_role(
    name: String,
    #[server(default)] description: String,
    #[server(default)] permissions: Vec<String>,
    create: Option<String>,
) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let services = call.services();
    let result = if create.is_some() {
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
    result.map_err(|e| call.refuse_form::<AdminSaveRole>(e, ROLES_PAGE, None))?;
    leptos_axum::redirect(ROLES_PAGE);
    Ok(())
}

#[server(prefix = "/api/auth/ui", endpoint = "admin-delete-role")]
pub async fn admin_delete_role(name: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    call.services()
        .admin_delete_role(&principal, &name)
        .await
        .map_err(|e| call.refuse_form::<AdminDeleteRole>(e, ROLES_PAGE, None))?;
    leptos_axum::redirect(ROLES_PAGE);
    Ok(())
}
