//! Auth server functions for the web app. They live under /api/auth/ui so
//! the refresh cookie (Path=/api/auth) reaches them, and they set and clear
//! the same cookies as the JSON API. No token ever appears in their output.

use leptos::prelude::*;
use leptos::server_fn::{
    codec::{GetUrl, JsonEncoding},
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::model::{ActivityEntry, CurrentSession, SessionInfo, SessionSummary, User};
#[cfg(feature = "ssr")]
use crate::server::auth::service::AuthError;

/// What the UI shows when a call is refused: a stable code and a message
/// meant for the person using the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AuthFnError {
    #[error("{message}")]
    Refused { code: String, message: String },
    #[error("{0}")]
    Transport(ServerFnErrorErr),
}

impl AuthFnError {
    pub fn code(&self) -> &str {
        match self {
            Self::Refused { code, .. } => code,
            Self::Transport(_) => "transport",
        }
    }

    /// What to show the person.
    pub fn user_message(&self) -> String {
        match self {
            Self::Refused { message, .. } => message.clone(),
            Self::Transport(_) => {
                "Portcullis could not be reached. Check your connection and try again.".into()
            }
        }
    }

    /// True when the session is gone and a refresh (or sign-in) is needed.
    pub fn is_unauthenticated(&self) -> bool {
        self.code() == "unauthenticated"
    }
}

impl FromServerFnError for AuthFnError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value)
    }
}

/// Creates an account and signs it in, then sends the browser to `next`
/// (a local path) or the account page.
#[server(prefix = "/api/auth/ui", endpoint = "signup")]
pub async fn signup(
    email: String,
    password: String,
    display_name: Option<String>,
    next: Option<String>,
) -> Result<User, AuthFnError> {
    let call = ssr::Call::new().await?;
    let issued = call
        .state
        .auth_context(&call.client)
        .signup(&email, &password, display_name.as_deref())
        .await
        .map_err(|e| call.refuse_form::<Signup>(e, "/signup", next.as_deref()))?;
    Ok(call.signed_in(&issued, next.as_deref(), "/account"))
}

/// Signs in, then sends the browser to `next` (a local path) or home.
#[server(prefix = "/api/auth/ui", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<User, AuthFnError> {
    let call = ssr::Call::new().await?;
    let issued = call
        .state
        .auth_context(&call.client)
        .login(&email, &password)
        .await
        .map_err(|e| call.refuse_form::<Login>(e, "/login", next.as_deref()))?;
    Ok(call.signed_in(&issued, next.as_deref(), "/"))
}

#[server(prefix = "/api/auth/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), AuthFnError> {
    let call = ssr::Call::new().await?;
    let raw = call.state.auth.cookies.read_refresh(&call.headers);
    let principal = call.principal();
    let result = call
        .state
        .auth_context(&call.client)
        .logout(raw.as_deref(), principal.as_ref())
        .await;
    // Whatever happened, this browser is signed out.
    call.clear_session();
    call.clear_site_data();
    result.map_err(|e| call.refuse(e))?;
    call.redirect_to_next(None, "/");
    Ok(())
}

#[server(prefix = "/api/auth/ui", endpoint = "refresh")]
pub async fn refresh() -> Result<SessionInfo, AuthFnError> {
    let call = ssr::Call::new().await?;
    let result = match call.state.auth.cookies.read_refresh(&call.headers) {
        Some(raw) => call.state.auth_context(&call.client).refresh(&raw).await,
        None => Err(AuthError::Unauthenticated),
    };
    match result {
        Ok(issued) => {
            call.set_session(&issued);
            Ok(issued.session_info())
        }
        Err(err) => {
            if matches!(err, AuthError::Unauthenticated) {
                call.clear_session();
            }
            Err(call.refuse(err))
        }
    }
}

/// The signed-in user and session, or `None`. Never an error for being
/// signed out. When the access token has lapsed (a tab asleep past its
/// expiry) but the refresh cookie is good, the session is renewed here; the
/// refresh cookie reaches this path, though never a page load.
#[server(prefix = "/api/auth/ui", endpoint = "me", input = GetUrl)]
pub async fn get_session() -> Result<Option<CurrentSession>, AuthFnError> {
    let call = ssr::Call::new().await?;
    call.no_store();
    let auth = call.state.auth_context(&call.client);
    if let Some(principal) = call.principal() {
        match auth.current_session(&principal).await {
            Ok(session) => return Ok(Some(session)),
            Err(AuthError::Unauthenticated) => {}
            Err(err) => return Err(call.refuse(err)),
        }
    }
    let Some(raw) = call.state.auth.cookies.read_refresh(&call.headers) else {
        return Ok(None);
    };
    match auth.refresh(&raw).await {
        Ok(issued) => {
            call.set_session(&issued);
            Ok(Some(issued.current_session(auth.now)))
        }
        Err(AuthError::Unauthenticated) => {
            call.clear_session();
            Ok(None)
        }
        Err(err) => Err(call.refuse(err)),
    }
}

#[server(prefix = "/api/auth/ui", endpoint = "profile")]
pub async fn update_profile(
    display_name: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
) -> Result<User, AuthFnError> {
    let call = ssr::Call::new().await?;
    let principal = call.require_principal()?;
    // Empty form fields mean "leave unchanged".
    let present = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (display_name, current_password, new_password) = (
        present(&display_name),
        present(&current_password),
        present(&new_password),
    );
    let change = crate::server::auth::service::ProfileChange {
        display_name: display_name.as_deref(),
        current_password: current_password.as_deref(),
        new_password: new_password.as_deref(),
    };
    let user = call
        .state
        .auth_context(&call.client)
        .update_profile(&principal, change)
        .await
        .map_err(|e| call.refuse(e))?;
    Ok(user.to_public())
}

/// The signed-in user's live sessions, this one marked.
#[server(prefix = "/api/auth/ui", endpoint = "sessions", input = GetUrl)]
pub async fn list_sessions() -> Result<Vec<SessionSummary>, AuthFnError> {
    let call = ssr::Call::new().await?;
    call.no_store();
    let principal = call.require_principal()?;
    let auth = call.state.auth_context(&call.client);
    auth.sessions(&principal).await.map_err(|e| call.refuse(e))
}

/// Ends one of the user's sessions (another device).
#[server(prefix = "/api/auth/ui", endpoint = "sessions/revoke")]
pub async fn revoke_session(id: String) -> Result<(), AuthFnError> {
    let call = ssr::Call::new().await?;
    let principal = call.require_principal()?;
    // A malformed id is as unknown as someone else's.
    let id = uuid::Uuid::parse_str(&id).map_err(|_| call.refuse(AuthError::NotFound))?;
    let auth = call.state.auth_context(&call.client);
    auth.revoke_session(&principal, id)
        .await
        .map_err(|e| call.refuse(e))
}

/// Ends every session of the user but this one.
#[server(prefix = "/api/auth/ui", endpoint = "sessions/revoke-others")]
pub async fn revoke_other_sessions() -> Result<(), AuthFnError> {
    let call = ssr::Call::new().await?;
    let principal = call.require_principal()?;
    let auth = call.state.auth_context(&call.client);
    auth.revoke_other_sessions(&principal)
        .await
        .map(|_| ())
        .map_err(|e| call.refuse(e))
}

/// The user's recent security events, newest first.
#[server(prefix = "/api/auth/ui", endpoint = "activity", input = GetUrl)]
pub async fn get_activity() -> Result<Vec<ActivityEntry>, AuthFnError> {
    let call = ssr::Call::new().await?;
    call.no_store();
    let principal = call.require_principal()?;
    let auth = call.state.auth_context(&call.client);
    auth.activity(&principal).await.map_err(|e| call.refuse(e))
}

#[cfg(feature = "ssr")]
mod ssr {
    use axum::http::{header, HeaderMap, HeaderValue};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use super::AuthFnError;
    use crate::model::User;
    use crate::server::{
        audit::ClientInfo,
        auth::{
            extract::principal_from_headers,
            service::{AuthError, Issued},
            tokens::Principal,
        },
        error::ApiError,
        state::AppState,
    };

    /// What every server function needs from its request.
    pub struct Call {
        pub state: AppState,
        pub client: ClientInfo,
        pub headers: HeaderMap,
        response: ResponseOptions,
    }

    fn transport(message: &str) -> AuthFnError {
        AuthFnError::Transport(leptos::server_fn::error::ServerFnErrorErr::ServerError(
            message.to_owned(),
        ))
    }

    impl Call {
        pub async fn new() -> Result<Self, AuthFnError> {
            let state =
                use_context::<AppState>().ok_or_else(|| transport("no application state"))?;
            let response =
                use_context::<ResponseOptions>().ok_or_else(|| transport("no response options"))?;
            let headers: HeaderMap = leptos_axum::extract()
                .await
                .map_err(AuthFnError::Transport)?;
            let client: ClientInfo = leptos_axum::extract_with_state(&state)
                .await
                .map_err(AuthFnError::Transport)?;
            Ok(Self {
                state,
                client,
                headers,
                response,
            })
        }

        pub fn principal(&self) -> Option<Principal> {
            principal_from_headers(&self.state, &self.headers)
        }

        /// The caller, or the 401 that tells the app to refresh.
        pub fn require_principal(&self) -> Result<Principal, AuthFnError> {
            self.principal()
                .ok_or_else(|| self.refuse(AuthError::Unauthenticated))
        }

        pub fn no_store(&self) {
            self.response
                .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }

        pub fn set_session(&self, issued: &Issued) {
            self.no_store();
            for cookie in self
                .state
                .auth
                .cookies
                .for_session(issued, self.state.clock.now())
            {
                self.response.append_header(header::SET_COOKIE, cookie);
            }
        }

        /// A plain HTML form post (no WASM) rather than the app's fetch.
        fn is_plain_form(&self) -> bool {
            self.headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
        }

        /// Sets the session cookies and sends the browser on to `next` (when
        /// it is a local path) or `default`.
        pub fn signed_in(&self, issued: &Issued, next: Option<&str>, default: &str) -> User {
            self.set_session(issued);
            self.redirect_to_next(next, default);
            issued.user.to_public()
        }

        /// Sends the browser on to `next` when it is a local path.
        pub fn redirect_to_next(&self, next: Option<&str>, default: &str) {
            let target = next.and_then(crate::validate::safe_next).unwrap_or(default);
            leptos_axum::redirect(target);
        }

        /// The same status, code and message as the JSON API gives. A plain
        /// form post keeps leptos' redirect back to the form (which shows
        /// the error), so its status is left alone.
        pub fn refuse(&self, err: AuthError) -> AuthFnError {
            let api = ApiError::from(err);
            api.log();
            if !self.is_plain_form() {
                self.response.set_status(api.status());
                if let Some(secs) = api.retry_after_secs() {
                    self.response
                        .insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
                }
            }
            AuthFnError::Refused {
                code: api.code().to_owned(),
                message: api.message().to_owned(),
            }
        }

        /// Like [`Call::refuse`], for a form page. Without WASM the browser
        /// must come back to the form with the error in its URL; leptos
        /// would send it to the `Referer`, which `Referrer-Policy:
        /// no-referrer` withholds.
        pub fn refuse_form<S: leptos::server_fn::ServerFn>(
            &self,
            err: AuthError,
            page: &str,
            next: Option<&str>,
        ) -> AuthFnError {
            let refused = self.refuse(err);
            if self.is_plain_form() {
                let base = format!(
                    "{}{}",
                    self.state.public_origin,
                    crate::validate::form_page(page, next)
                );
                let back =
                    leptos::server_fn::error::ServerFnUrlError::new(S::PATH, refused.clone())
                        .to_url(&base);
                if let Ok(url) = back {
                    leptos_axum::redirect(url.as_str());
                }
            }
            refused
        }

        pub fn clear_site_data(&self) {
            let (name, value) = crate::server::auth::cookies::clear_site_data();
            self.response.insert_header(name, value);
        }

        pub fn clear_session(&self) {
            self.no_store();
            for cookie in self.state.auth.cookies.clear_both() {
                self.response.append_header(header::SET_COOKIE, cookie);
            }
        }
    }
}
