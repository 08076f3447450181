use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::{
    audit::ClientInfo,
    auth::{
        cookies::SessionCookies, password::PasswordHasher, service::AuthContext,
        tokens::AccessTokens,
    },
    clock::SharedClock,
    config::Config,
    db::Db,
};

/// Shared by every handler and, through context, by server functions.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub auth: Arc<AuthKeys>,
    /// The origin browsers use; requests from any other are refused.
    pub public_origin: Arc<str>,
}

/// Long-lived auth machinery built once at start-up.
pub struct AuthKeys {
    pub hasher: PasswordHasher,
    pub tokens: AccessTokens,
    pub cookies: SessionCookies,
}

impl AppState {
    /// The auth rules, bound to this moment and this client.
    pub fn auth_context<'a>(&'a self, client: &'a ClientInfo) -> AuthContext<'a> {
        AuthContext {
            db: &self.db,
            hasher: &self.auth.hasher,
            tokens: &self.auth.tokens,
            throttle: &self.config.throttle,
            refresh_ttl: self.config.refresh_token_ttl,
            now: self.clock.now(),
            client,
        }
    }
}
