//! Signing up, in and out, refreshing, and reading the session, for the
//! web app.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
use crate::model::{CurrentSession, PasswordField, SessionInfo, User};
#[cfg(feature = "ssr")]
use crate::server::{
    http::effects::SessionEffects,
    services::{LoginOutcome, ServiceError},
};

/// Where the browser goes after signing up, or in, without a `next`.
pub const AFTER_SIGN_UP: &str = "/account";
pub const AFTER_SIGN_IN: &str = "/";

/// Creates an account and signs it in, then sends the browser to `next`
/// (a local path, or an allowed return URL) or the account page.
#[server(prefix = "/api/auth/ui", endpoint = "signup")]
pub async fn signup(
    email: String,
    password: PasswordField,
    display_name: Option<String>,
    next: Option<String>,
) -> Result<User, AppFnError> {
    let call = Call::new().await?;
    let issued = call
        .services()
        .signup(&email, password.expose(), display_name.as_deref())
        .await
        .map_err(|e| call.refuse_form::<Signup>(e, "/signup", next.as_deref()))?;
    call.signed_in(&issued, next.as_deref(), AFTER_SIGN_UP)
}

/// Signs in, then sends the browser to `next` (a local path, or an
/// allowed return URL) or home.
#[server(prefix = "/api/auth/ui", endpoint = "login")]
pub async fn login(
    email: String,
    password: PasswordField,
    next: Option<String>,
) -> Result<User, AppFnError> {
    let call = Call::new().await?;
    let outcome = call
        .services()
        .login(&email, password.expose(), call.device_cookie().as_deref())
        .await
        .map_err(|e| call.refuse_form::<Login>(e, "/login", next.as_deref()))?;
    let LoginOutcome::SignedIn(issued) = outcome;
    call.signed_in(&issued, next.as_deref(), AFTER_SIGN_IN)
}

#[server(prefix = "/api/auth/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let raw = call.refresh_cookie();
    let principal = call.principal();
    let result = call
        .services()
        .logout(raw.as_deref(), principal.as_ref())
        .await;
    // Whatever happened, this browser is signed out; one that was signed
    // out already (a stale page) has nothing to be told.
    call.apply(SessionEffects::sign_out())?;
    match result {
        Ok(()) | Err(ServiceError::Unauthenticated) => {}
        Err(err) => return Err(call.refuse(err)),
    }
    call.redirect_to_next(None, "/");
    Ok(())
}

#[server(prefix = "/api/auth/ui", endpoint = "refresh")]
pub async fn refresh() -> Result<SessionInfo, AppFnError> {
    let call = Call::new().await?;
    let result = match call.refresh_cookie() {
        Some(raw) => {
            call.services()
                .refresh(&raw, call.access_token_session())
                .await
        }
        None => Err(ServiceError::Unauthenticated),
    };
    match result {
        Ok(issued) => {
            call.apply(SessionEffects::set(&issued.tokens))?;
            Ok(issued.session_info())
        }
        Err(err) => {
            if matches!(err, ServiceError::Unauthenticated) {
                call.apply(SessionEffects::clear())?;
            }
            Err(call.refuse(err))
        }
    }
}

/// Whether this browser holds a refresh cookie, so that a lapsed session
/// may be renewed with [`refresh`]. Reads nothing else, changes nothing.
#[server(prefix = "/api/auth/ui", endpoint = "renewable", input = GetUrl)]
pub async fn renewable() -> Result<bool, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    Ok(call.refresh_cookie().is_some())
}

/// The signed-in user and session, or `None`. Never an error for being
/// signed out, and never a change: a GET renews nothing. A browser whose
/// access token lapsed (a tab asleep past its expiry) renews with
/// [`refresh`], a POST, and asks again.
#[server(prefix = "/api/auth/ui", endpoint = "me", input = GetUrl)]
pub async fn get_session() -> Result<Option<CurrentSession>, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let Some(principal) = call.principal() else {
        return Ok(None);
    };
    match call.services().current_session(&principal).await {
        Ok(session) => Ok(Some(session)),
        // Stale counts as lapsed: the web app renews it the same way.
        Err(ServiceError::Unauthenticated | ServiceError::StaleAuthorization) => Ok(None),
        Err(err) => Err(call.refuse(err)),
    }
}
