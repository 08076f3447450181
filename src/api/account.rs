//! The signed-in user's own account, for the web app.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
use crate::model::User;

#[server(prefix = "/api/auth/ui", endpoint = "profile")]
pub async fn update_profile(
    display_name: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
) -> Result<User, AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    // Empty form fields mean "leave unchanged".
    let present = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (display_name, current_password, new_password) = (
        present(&display_name),
        present(&current_password),
        present(&new_password),
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
