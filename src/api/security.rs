//! The user's sessions and security activity, for the web app.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
use crate::model::{ActivityEntry, SessionSummary};
#[cfg(feature = "ssr")]
use crate::server::{http::effects::SessionEffects, services::ServiceError};

/// The signed-in user's live sessions, this one marked.
#[server(prefix = "/api/auth/ui", endpoint = "sessions", input = GetUrl)]
pub async fn list_sessions() -> Result<Vec<SessionSummary>, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let principal = call.require_principal()?;
    call.services()
        .sessions(&principal)
        .await
        .map_err(|e| call.refuse(e))
}

/// Ends one of the user's sessions (another device).
#[server(prefix = "/api/auth/ui", endpoint = "sessions/revoke")]
pub async fn revoke_session(id: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    // A malformed id is as unknown as someone else's.
    let id = uuid::Uuid::parse_str(&id).map_err(|_| call.refuse(ServiceError::NotFound))?;
    call.services()
        .revoke_session(&principal, id)
        .await
        .map_err(|e| call.refuse(e))
}

/// Ends every session of the user but this one.
#[server(prefix = "/api/auth/ui", endpoint = "sessions/revoke-others")]
pub async fn revoke_other_sessions() -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    call.services()
        .revoke_other_sessions(&principal)
        .await
        .map(|_| ())
        .map_err(|e| call.refuse(e))
}

/// The user's recent security events, newest first.
#[server(prefix = "/api/auth/ui", endpoint = "activity", input = GetUrl)]
pub async fn get_activity() -> Result<Vec<ActivityEntry>, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let principal = call.require_principal()?;
    call.services()
        .activity(&principal)
        .await
        .map_err(|e| call.refuse(e))
}
