//! The session in the browser. Pages are rendered on the server with the
//! session of their request, so when it changes (signed in or out here or in
//! another tab, or ended) the page is loaded again; when only the access
//! token is renewed, timers move and nothing else does.

use std::future::Future;

use crate::api::{session::refresh, AppFnError};

/// Shown on the sign-in page when the session could not be renewed.
pub const SESSION_ENDED: &str = "Your session has ended. Please sign in again.";

/// What one tab of this site tells the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// Signed in or out, or the profile changed: pages are out of date.
    Changed,
    /// The access token was renewed: refresh timers move.
    Refreshed,
}

impl Message {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Refreshed => "refreshed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Changed, Self::Refreshed]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// Runs `call`; if the server says the session is gone, refreshes once and
/// runs it again. If the refresh fails too, the session has ended.
pub async fn with_refresh<T, F, Fut>(call: F) -> Result<T, AppFnError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AppFnError>>,
{
    match call().await {
        Err(e) if e.is_unauthenticated() => match refresh().await {
            Ok(_) => {
                #[cfg(feature = "hydrate")]
                browser::refreshed();
                call().await
            }
            Err(_) => {
                #[cfg(feature = "hydrate")]
                browser::session_ended();
                Err(e)
            }
        },
        other => other,
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{follow_server_redirects, show_display_name, start, take_notice};

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, time::Duration};

    use leptos::{prelude::*, task::spawn_local};
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{BroadcastChannel, MessageEvent, Storage};

    use super::{Message, SESSION_ENDED};
    use crate::api::session::{get_session, refresh, renewable};

    const CHANNEL: &str = "portcullis-auth";
    /// Per tab (sessionStorage), never secret: why the last page load
    /// happened, for the page that comes next.
    const NOTICE_KEY: &str = "portcullis-session-ended";
    const RENEWED_KEY: &str = "portcullis-renewed";

    thread_local! {
        // One channel to send and listen on: a channel never hears its own
        // messages, so a tab does not answer what it said itself.
        static TABS: Option<BroadcastChannel> = BroadcastChannel::new(CHANNEL).ok();
        static REFRESH_TIMER: RefCell<Option<TimeoutHandle>> = const { RefCell::new(None) };
    }

    pub fn announce(message: Message) {
        TABS.with(|tabs| {
            if let Some(tabs) = tabs {
                let _ = tabs.post_message(&message.as_str().into());
            }
        });
    }

    /// Server functions redirect only after signing in, up or out, so each
    /// such redirect is news for the other tabs; then the browser follows it.
    pub fn follow_server_redirects() {
        let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
            announce(Message::Changed);
            let _ = window().location().set_href(location);
        });
    }

    /// Called once the page's islands have hydrated, with the seconds its
    /// access token had left when the server rendered it (none: signed out).
    pub fn start(access_expires_in_secs: Option<i64>) {
        listen_to_other_tabs();
        match access_expires_in_secs {
            Some(secs) => {
                take(RENEWED_KEY);
                schedule_refresh(secs);
            }
            None => renew_a_lapsed_session(),
        }
        mark_hydrated();
    }

    /// The browser tests wait on this before they interact.
    fn mark_hydrated() {
        if let Ok(Some(app)) = document().query_selector(".app") {
            let _ = app.set_attribute("data-hydrated", "true");
        }
    }

    fn listen_to_other_tabs() {
        TABS.with(|tabs| {
            let Some(tabs) = tabs else { return };
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
                match event.data().as_string().as_deref().and_then(Message::parse) {
                    Some(Message::Changed) => reload(),
                    Some(Message::Refreshed) => spawn_local(reschedule()),
                    None => {}
                }
            });
            tabs.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            // Lives as long as the page.
            on_message.forget();
        });
    }

    /// Page loads never carry the refresh cookie, so a page rendered after
    /// the access token lapsed shows the signed-out state. If the browser
    /// holds a refresh cookie, one refresh (a POST) renews the session and
    /// the page loads again, signed in. Once: if it still shows signed
    /// out, the tab leaves it at that rather than loop.
    fn renew_a_lapsed_session() {
        if take(RENEWED_KEY).is_some() {
            return;
        }
        spawn_local(async {
            if renewable().await == Ok(true) && refresh().await.is_ok() {
                remember(RENEWED_KEY, "1");
                announce(Message::Changed);
                reload();
            }
        });
    }

    /// After a refresh here: the other tabs and this one move their timers.
    pub fn refreshed() {
        announce(Message::Refreshed);
        spawn_local(reschedule());
    }

    pub fn session_ended() {
        remember(NOTICE_KEY, "1");
        announce(Message::Changed);
        reload();
    }

    /// Why the session ended, once, if it just did in this tab.
    pub fn take_notice() -> Option<&'static str> {
        take(NOTICE_KEY).map(|_| SESSION_ENDED)
    }

    /// The header is server-rendered, outside any island; after a rename it
    /// shows the new name without loading the page again.
    pub fn show_display_name(name: &str) {
        if let Ok(Some(shown)) = document().query_selector("#account-name") {
            shown.set_text_content(Some(name));
        }
        announce(Message::Changed);
    }

    async fn reschedule() {
        if let Ok(Some(session)) = get_session().await {
            schedule_refresh(session.access_expires_in_secs);
        }
    }

    /// Refreshes a little before the access token expires. Every tab moves
    /// its own timer out when another one refreshed; a small random spread
    /// keeps tabs from firing together, and the server's grace window
    /// absorbs a collision that still happens.
    fn schedule_refresh(expires_in_secs: i64) {
        let delay = refresh_delay(expires_in_secs, js_sys::Math::random());
        let handle = set_timeout_with_handle(
            || {
                spawn_local(async {
                    match refresh().await {
                        Ok(_) => refreshed(),
                        Err(_) => session_ended(),
                    }
                })
            },
            delay,
        )
        .ok();
        REFRESH_TIMER.with(|timer| {
            if let Some(previous) = timer.replace(handle) {
                previous.clear();
            }
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

    fn storage() -> Option<Storage> {
        window().session_storage().ok().flatten()
    }

    fn remember(key: &str, value: &str) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(key, value);
        }
    }

    fn take(key: &str) -> Option<String> {
        let storage = storage()?;
        let value = storage.get_item(key).ok().flatten();
        if value.is_some() {
            let _ = storage.remove_item(key);
        }
        value
    }

    fn reload() {
        let _ = window().location().reload();
    }
}

#[cfg(test)]
mod tests {
    use super::Message;

    #[test]
    fn messages_read_back_as_themselves() {
        for message in [Message::Changed, Message::Refreshed] {
            assert_eq!(Message::parse(message.as_str()), Some(message));
        }
        assert_eq!(Message::parse("refreshed!"), None);
    }
}
