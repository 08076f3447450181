//! The session as the server renders it: read once per request, before the
//! page renders (`server::http::page_session`), for the header and every
//! page. What happens to it in the browser (silent refresh, other tabs) is
//! the [`SessionKeeper`] island's job.
//!
//! [`SessionKeeper`]: super::session_keeper::SessionKeeper

use leptos::prelude::*;

use crate::{api::AppFnError, model::CurrentSession};

#[derive(Debug, Clone)]
pub struct AuthState {
    session: Result<Option<CurrentSession>, AppFnError>,
}

impl AuthState {
    /// Takes this request's session and provides it to every component below.
    pub fn provide() -> Self {
        let auth = Self {
            session: this_requests_session(),
        };
        provide_context(auth.clone());
        auth
    }

    /// The session, `None` when signed out, or why it could not be read.
    pub fn session(&self) -> Result<Option<CurrentSession>, AppFnError> {
        self.session.clone()
    }

    pub fn current(&self) -> Option<CurrentSession> {
        self.session.clone().ok().flatten()
    }

    pub fn signed_in(&self) -> bool {
        matches!(self.session, Ok(Some(_)))
    }

    /// Known to be signed out (not merely unreadable).
    pub fn signed_out(&self) -> bool {
        matches!(self.session, Ok(None))
    }
}

/// The auth state provided at the app root.
pub fn use_auth_state() -> AuthState {
    // Provided by `App` before any page renders; a component outside it
    // reads the request's session itself instead of panicking.
    use_context::<AuthState>().unwrap_or_else(AuthState::provide)
}

/// Left in the request by the page-session middleware; signed out when it
/// is not there (as when leptos lists the routes at start-up).
#[cfg(feature = "ssr")]
fn this_requests_session() -> Result<Option<CurrentSession>, AppFnError> {
    use crate::server::http::page_session::PageSession;

    let session = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageSession>().cloned());
    match session {
        Some(PageSession::SignedIn(session)) => Ok(Some(session)),
        Some(PageSession::Unreadable { code, message }) => {
            Err(AppFnError::Refused { code, message })
        }
        Some(PageSession::SignedOut) | None => Ok(None),
    }
}

/// Pages render only on the server; islands never read the auth state.
#[cfg(not(feature = "ssr"))]
fn this_requests_session() -> Result<Option<CurrentSession>, AppFnError> {
    Ok(None)
}
