//! The signed-in user's own account, for the web app.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
use crate::model::{PasswordField, User};

#[server(prefix = "/api/auth/ui", endpoint = "profile")]
pub async fn update_profile(
    display_name: Option<String>,
    current_password: Option<PasswordField>,
    new_password: Option<PasswordField>,
) -> Result<User, AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    // Empty form fields mean "leave unchanged".
    let present = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    let (display_name, current_password, new_password) = (
        present(display_name.as_deref()),
        present(current_password.as_ref().map(PasswordField::expose)),
        present(new_password.as_ref().map(PasswordField::expose)),
    );
    let change = crate::server::services::ProfileChange {
        display_name: display_name.as_deref(),
        current_password: current_password.as_deref(),
        new_password: new_password.as_deref(),
    };
    let user = call
        .services()
        .update_profile(&principal, change)
        .await
        .map_err(|e| call.refuse(e))?;
    Ok(User::from(&user))
}

/// Deletes the signed-in user's own account, given its current password
/// and the ticked `confirm` box, and signs this browser out. A plain form
/// post: it ends on the start page, or back on the account page with why.
#[server(prefix = "/api/auth/ui", endpoint = "delete-account")]
pub async fn delete_account(
    current_password: PasswordField,
    confirm: Option<String>,
) -> Result<(), AppFnError> {
    use crate::server::http::effects::SessionEffects;

    let call = Call::new().await?;
    let principal = call.require_principal()?;
    if confirm.as_deref() != Some("yes") {
        return Err(call.refuse_form_with::<DeleteAccount>(
            super::admin::unconfirmed(),
            "/account",
            None,
        ));
    }
    call.services()
        .delete_own_account(&principal, current_password.expose())
        .await
        .map_err(|e| call.refuse_form::<DeleteAccount>(e, "/account", None))?;
    call.apply(SessionEffects::sign_out())?;
    leptos_axum::redirect("/");
    Ok(())
}
