//! The session as the server renders it: read once per page at the app
//! root, for the header and every page. What happens to it in the browser
//! (silent refresh, other tabs) is the [`SessionKeeper`] island's job.
//!
//! [`SessionKeeper`]: super::session_keeper::SessionKeeper

use leptos::prelude::*;

use crate::{
    api::{session::get_session, AppFnError},
    model::CurrentSession,
};

#[derive(Clone, Copy)]
pub struct AuthState {
    pub session: Resource<Result<Option<CurrentSession>, AppFnError>>,
}

impl AuthState {
    /// Reads this request's session and provides it to every component below.
    pub fn provide() -> Self {
        // Blocking: the first HTML already shows the right state, and a
        // protected page can answer with a real redirect.
        let session = Resource::new_blocking(|| (), |_| get_session());
        let auth = Self { session };
        provide_context(auth);
        auth
    }
}

/// The auth state provided at the app root.
pub fn use_auth_state() -> AuthState {
    // Provided by `App` before any page renders; a component outside it
    // gets its own read of the session instead of a panic.
    use_context::<AuthState>().unwrap_or_else(AuthState::provide)
}
