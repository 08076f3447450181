//! What every handler, middleware and server function can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::{
    config::Config,
    credentials::{cookies::SessionCookies, password::PasswordHasher, tokens::AccessTokens},
    domain::client::ClientInfo,
    platform::clock::SharedClock,
    services::Services,
    store::db::Db,
};

/// Shared by every handler and, through context, by server functions.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub credentials: Arc<Credentials>,
    /// The origin browsers use; requests from any other are refused.
    pub public_origin: Arc<str>,
}

/// What issues and checks credentials, built once at start-up.
pub struct Credentials {
    pub hasher: PasswordHasher,
    pub tokens: AccessTokens,
    pub cookies: SessionCookies,
}

impl AppState {
    /// The use cases, bound to this moment and this client.
    pub fn services<'a>(&'a self, client: &'a ClientInfo) -> Services<'a> {
        Services {
            db: &self.db,
            hasher: &self.credentials.hasher,
            tokens: &self.credentials.tokens,
            throttle: &self.config.throttle,
            refresh_ttl: self.config.refresh_token_ttl,
            now: self.clock.now(),
            client,
        }
    }
}
