//! The web app's one auth state: the current session as a resource at the
//! app root, the sign-in/up/out actions that refresh it, and (in the
//! browser) silent token refresh and coordination between tabs.

use leptos::prelude::*;

use crate::{
    api::{
        session::{get_session, refresh, Login, Logout, Signup},
        AppFnError,
    },
    model::{CurrentSession, User},
};

/// Shown when the session could not be renewed.
pub const SESSION_ENDED: &str = "Your session has ended. Please sign in again.";

#[derive(Clone, Copy)]
pub struct AuthState {
    pub login: ServerAction<Login>,
    pub signup: ServerAction<Signup>,
    pub logout: ServerAction<Logout>,
    pub session: Resource<Result<Option<CurrentSession>, AppFnError>>,
    /// Bump to read the session again (after a refresh or a profile change).
    reload: RwSignal<u64>,
    /// A short message for the person, e.g. why they were signed out.
    pub notice: RwSignal<Option<String>>,
}

impl AuthState {
    /// Builds the auth state and provides it to every component below.
    pub fn provide() -> Self {
        let login = ServerAction::<Login>::new();
        let signup = ServerAction::<Signup>::new();
        let logout = ServerAction::<Logout>::new();
        let reload = RwSignal::new(0_u64);
        // Blocking: the first HTML already shows the right state, and a
        // protected page can answer with a real redirect.
        let session = Resource::new_blocking(
            move || {
                (
                    login.version().get(),
                    signup.version().get(),
                    logout.version().get(),
                    reload.get(),
                )
            },
            |_| get_session(),
        );
        let auth = Self {
            login,
            signup,
            logout,
            session,
            reload,
            notice: RwSignal::new(None),
        };
        provide_context(auth);
        #[cfg(feature = "hydrate")]
        browser::start(auth);
        auth
    }

    /// The current session, `None` while loading or when signed out.
    pub fn current(&self) -> Option<CurrentSession> {
        self.session.get().and_then(Result::ok).flatten()
    }

    pub fn user(&self) -> Option<User> {
        self.current().map(|s| s.user)
    }

    /// `Some(true/false)` once known, `None` while loading.
    pub fn signed_in(&self) -> Option<bool> {
        self.session.get().map(|r| r.ok().flatten().is_some())
    }

    pub fn reload(&self) {
        self.reload.update(|n| *n += 1);
    }

    /// Runs `call`; if the server says the session is gone, refreshes once
    /// and runs it again. If the refresh fails too, shows the signed-out state.
    pub async fn with_refresh<T, F, Fut>(&self, call: F) -> Result<T, AppFnError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, AppFnError>>,
    {
        match call().await {
            Err(e) if e.is_unauthenticated() => match refresh().await {
                Ok(_) => {
                    self.changed();
                    call().await
                }
                Err(_) => {
                    self.session_ended();
                    Err(e)
                }
            },
            other => other,
        }
    }

    /// The session changed here: read it again and tell the other tabs.
    pub fn changed(&self) {
        self.reload();
        #[cfg(feature = "hydrate")]
        browser::announce();
    }

    fn session_ended(&self) {
        self.notice.set(Some(SESSION_ENDED.to_owned()));
        self.changed();
    }
}

/// The auth state provided at the app root.
pub fn use_auth_state() -> AuthState {
    // Provided by `App` before any page renders; a component outside it
    // gets a fresh, signed-out state instead of a panic.
    use_context::<AuthState>().unwrap_or_else(AuthState::provide)
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{BroadcastChannel, MessageEvent};

    use super::AuthState;
    use crate::api::session::{refresh, renewable};

    const CHANNEL: &str = "portcullis-auth";
    const CHANGED: &str = "changed";

    fn channel() -> Option<BroadcastChannel> {
        BroadcastChannel::new(CHANNEL).ok()
    }

    /// Tells the other tabs the session changed (signed in or out, refreshed).
    pub fn announce() {
        if let Some(channel) = channel() {
            let _ = channel.post_message(&CHANGED.into());
            channel.close();
        }
    }

    pub fn start(auth: AuthState) {
        renew_a_lapsed_session(auth);
        listen_to_other_tabs(auth);
        announce_own_sign_ins_and_outs(auth);
        schedule_silent_refresh(auth);
    }

    /// Page loads never carry the refresh cookie, so a page rendered after
    /// the access token lapsed shows the signed-out state. If the browser
    /// holds a refresh cookie, one refresh (a POST) renews the session if
    /// it still can; a visitor who never signed in is left alone.
    fn renew_a_lapsed_session(auth: AuthState) {
        let asked = RwSignal::new(false);
        Effect::new(move |_| {
            if auth.signed_in() == Some(false) && !asked.get_untracked() {
                asked.set(true);
                leptos::task::spawn_local(async move {
                    if renewable().await == Ok(true) && refresh().await.is_ok() {
                        auth.changed();
                    }
                });
            }
        });
    }

    fn listen_to_other_tabs(auth: AuthState) {
        let Some(channel) = channel() else { return };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if event.data().as_string().as_deref() == Some(CHANGED) {
                auth.reload();
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Both live as long as the page.
        on_message.forget();
        std::mem::forget(channel);
    }

    fn announce_own_sign_ins_and_outs(auth: AuthState) {
        for version in [
            auth.login.version(),
            auth.signup.version(),
            auth.logout.version(),
        ] {
            Effect::new(move |previous: Option<usize>| {
                let now = version.get();
                if previous.is_some_and(|p| p != now) {
                    announce();
                }
                now
            });
        }
        // A successful sign-in clears an old notice.
        Effect::new(move |_| {
            if auth.user().is_some() {
                auth.notice.set(None);
            }
        });
    }

    /// Refreshes a little before the access token expires. Every tab
    /// re-reads the session when another one refreshed, which moves its own
    /// timer out; a small random spread keeps tabs from firing together, and
    /// the server's grace window absorbs a collision that still happens.
    fn schedule_silent_refresh(auth: AuthState) {
        Effect::new(move |previous: Option<Option<TimeoutHandle>>| {
            if let Some(Some(handle)) = previous {
                handle.clear();
            }
            let session = auth.current()?;
            let delay = refresh_delay(session.access_expires_in_secs, js_sys::Math::random());
            set_timeout_with_handle(
                move || {
                    leptos::task::spawn_local(async move {
                        match refresh().await {
                            Ok(_) => auth.changed(),
                            Err(_) => auth.session_ended(),
                        }
                    });
                },
                delay,
            )
            .ok()
        });
    }

    /// At about 80% of the remaining lifetime, but at most a minute early,
    /// spread by up to 5% so tabs do not fire together.
    fn refresh_delay(expires_in_secs: i64, spread: f64) -> Duration {
        let remaining = expires_in_secs.max(0) as f64;
        let early = (remaining * 0.2).min(60.0);
        let at = (remaining - early) * (1.0 - 0.05 * spread.clamp(0.0, 1.0));
        Duration::from_secs_f64(at.max(0.5))
    }
}
