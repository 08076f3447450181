//! What every handler and server function can reach. Middlewares take
//! only the part they need.

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use ipnet::IpNet;
use leptos::config::LeptosOptions;

use super::gate_passes::GatePasses;
use crate::server::{
    credentials::{
        assertions::Assertions, cookies::SessionCookies, device_cookies::DeviceCookies,
        password::PasswordHasher, tokens::AccessTokens,
    },
    domain::client::ClientInfo,
    platform::{clock::SharedClock, shutdown::Draining},
    services::{authz_view::AuthzView, machines::unknown_keys::UnknownKeys, Policies, Services},
    store::db::Db,
};

/// Shared by every handler and, through context, by server functions.
/// axum clones it for each request several times over (each middleware,
/// the handler, its extractor), so a clone is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    /// What this replica knows of sessions lately checked.
    pub authz: AuthzView,
    pub clock: SharedClock,
    pub credentials: Arc<Credentials>,
    pub policies: Arc<Policies>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The origin browsers use; requests from any other are refused.
    pub public_origin: Arc<str>,
    /// Other origins allowed to call the JSON API with cookies (CORS).
    pub cors_origins: Arc<[String]>,
    /// Forward-auth's answers for sessions lately let through.
    pub passes: GatePasses,
    /// Unknown API keys lately presented, per address.
    pub unknown_keys: UnknownKeys,
    /// Set when shutdown begins; readiness fails from then on.
    pub draining: Draining,
}

/// What issues and checks credentials, built once at start-up.
pub struct Credentials {
    pub hasher: PasswordHasher,
    pub tokens: AccessTokens,
    /// Forward-auth's signed word that a request passed the gate.
    pub assertions: Assertions,
    pub devices: DeviceCookies,
    pub cookies: SessionCookies,
}

/// leptos_axum's routes and file handler take the options by value.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// The use cases, bound to this moment and this client.
    pub fn services<'a>(&'a self, client: &'a ClientInfo) -> Services<'a> {
        Services {
            db: &self.db,
            authz: &self.authz,
            hasher: &self.credentials.hasher,
            tokens: &self.credentials.tokens,
            devices: &self.credentials.devices,
            policies: &self.policies,
            unknown_keys: &self.unknown_keys,
            now: self.clock.now(),
            client,
        }
    }
}
