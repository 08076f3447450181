//! API keys, service accounts and agents, for the web app: each call is one
//! use case of the JSON API's (/api/auth/api-keys, /api/agents), for the
//! signed-in person only. Answers that carry a key are never stored.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use super::call::Call;
use super::AppFnError;
use crate::model::{Agent, AgentPermissions, ApiKey, CreatedApiKey, RegisteredAgent};
#[cfg(feature = "ssr")]
use crate::{
    model::{AgentChange, NewApiKey, RegisterAgent as Registration},
    server::{
        http::effects::SessionEffects,
        services::{
            machines::{Caller, Presented},
            ServiceError,
        },
    },
};

/// The person calling, as the machine use cases take them.
#[cfg(feature = "ssr")]
async fn person(call: &Call) -> Result<Caller, AppFnError> {
    let principal = call.require_principal()?;
    call.services()
        .caller(&Presented::Person(principal))
        .await
        .map_err(|e| call.refuse(e))
}

/// A malformed id is as unknown as someone else's.
#[cfg(feature = "ssr")]
fn id_of(call: &Call, text: &str) -> Result<uuid::Uuid, AppFnError> {
    uuid::Uuid::parse_str(text).map_err(|_| call.refuse(ServiceError::NotFound))
}

/// A key's lifetime as the form gives it: `never_expires` wins (and is the
/// service's to refuse to anyone but an administrator).
#[cfg(feature = "ssr")]
fn lifetime(expires_in_days: Option<i64>, never_expires: bool) -> (Option<i64>, bool) {
    if never_expires {
        (None, true)
    } else {
        (expires_in_days, false)
    }
}

// --- a person's own keys -------------------------------------------------

/// The signed-in user's unrevoked keys, newest first.
#[server(prefix = "/api/auth/ui", endpoint = "api-keys", input = GetUrl)]
pub async fn list_api_keys() -> Result<Vec<ApiKey>, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let principal = call.require_principal()?;
    call.services()
        .api_keys(&principal)
        .await
        .map(|list| list.api_keys)
        .map_err(|e| call.refuse(e))
}

/// Makes a key with `scopes` (each one the user holds); the answer is the
/// only time the key is shown.
#[server(prefix = "/api/auth/ui", endpoint = "api-keys/create")]
pub async fn create_api_key(
    name: String,
    #[server(default)] scopes: Vec<String>,
    expires_in_days: Option<i64>,
    #[server(default)] never_expires: bool,
) -> Result<CreatedApiKey, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let principal = call.require_principal()?;
    let (expires_in_days, never_expires) = lifetime(expires_in_days, never_expires);
    let request = NewApiKey {
        name: Some(name),
        scopes: Some(scopes),
        expires_in_days,
        never_expires,
    };
    call.services()
        .create_api_key(&principal, &request)
        .await
        .map_err(|e| call.refuse(e))
}

#[server(prefix = "/api/auth/ui", endpoint = "api-keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let principal = call.require_principal()?;
    let id = id_of(&call, &id)?;
    call.services()
        .revoke_api_key(&principal, id)
        .await
        .map_err(|e| call.refuse(e))
}

// --- service accounts and agents ----------------------------------------

/// The caller's service accounts and agents; every one for a holder of
/// `agents:manage`, unless `mine` asks for their own only.
#[server(prefix = "/api/auth/ui", endpoint = "agents", input = GetUrl)]
pub async fn list_agents(#[server(default)] mine: bool) -> Result<Vec<Agent>, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let caller = person(&call).await?;
    call.services()
        .agents(&caller, mine)
        .await
        .map(|list| list.agents)
        .map_err(|e| call.refuse(e))
}

/// Registers a service account or agent with its first key, shown this once.
#[server(prefix = "/api/auth/ui", endpoint = "agents/register")]
pub async fn register_agent(
    name: String,
    kind: String,
    #[server(default)] description: String,
    #[server(default)] permissions: Vec<String>,
    expires_in_days: Option<i64>,
    #[server(default)] never_expires: bool,
) -> Result<RegisteredAgent, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let caller = person(&call).await?;
    let (expires_in_days, never_expires) = lifetime(expires_in_days, never_expires);
    let request = Registration {
        name,
        kind,
        description: Some(description),
        permissions,
        expires_in_days,
        never_expires,
    };
    call.services()
        .register_agent(&caller, &request)
        .await
        .map_err(|e| call.refuse(e))
}

/// Exactly these permissions (never more than its owner holds).
#[server(prefix = "/api/auth/ui", endpoint = "agents/permissions")]
pub async fn set_agent_permissions(
    id: String,
    #[server(default)] permissions: Vec<String>,
) -> Result<AgentPermissions, AppFnError> {
    let call = Call::new().await?;
    let caller = person(&call).await?;
    let id = id_of(&call, &id)?;
    call.services()
        .set_agent_permissions(&caller, id, &permissions)
        .await
        .map_err(|e| call.refuse(e))
}

/// Disables it (its keys and tokens stop working at once) or enables it.
#[server(prefix = "/api/auth/ui", endpoint = "agents/disabled")]
pub async fn set_agent_disabled(id: String, disabled: bool) -> Result<Agent, AppFnError> {
    let call = Call::new().await?;
    let caller = person(&call).await?;
    let id = id_of(&call, &id)?;
    let change = AgentChange {
        disabled: Some(disabled),
        description: None,
    };
    call.services()
        .change_agent(&caller, id, &change)
        .await
        .map_err(|e| call.refuse(e))
}

/// Deletes it and its keys.
#[server(prefix = "/api/auth/ui", endpoint = "agents/delete")]
pub async fn delete_agent(id: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let caller = person(&call).await?;
    let id = id_of(&call, &id)?;
    call.services()
        .delete_agent(&caller, id)
        .await
        .map_err(|e| call.refuse(e))
}

/// A further key for it (two may live at once, for a rotation), shown
/// this once.
#[server(prefix = "/api/auth/ui", endpoint = "agents/keys/create")]
pub async fn create_agent_key(
    id: String,
    name: String,
    expires_in_days: Option<i64>,
    #[server(default)] never_expires: bool,
) -> Result<CreatedApiKey, AppFnError> {
    let call = Call::new().await?;
    call.apply(SessionEffects::no_store())?;
    let caller = person(&call).await?;
    let id = id_of(&call, &id)?;
    let (expires_in_days, never_expires) = lifetime(expires_in_days, never_expires);
    let request = NewApiKey {
        name: Some(name),
        scopes: None,
        expires_in_days,
        never_expires,
    };
    call.services()
        .create_agent_key(&caller, id, &request)
        .await
        .map_err(|e| call.refuse(e))
}

#[server(prefix = "/api/auth/ui", endpoint = "agents/keys/revoke")]
pub async fn revoke_agent_key(id: String, key_id: String) -> Result<(), AppFnError> {
    let call = Call::new().await?;
    let caller = person(&call).await?;
    let (id, key_id) = (id_of(&call, &id)?, id_of(&call, &key_id)?);
    call.services()
        .revoke_agent_key(&caller, id, key_id)
        .await
        .map_err(|e| call.refuse(e))
}
