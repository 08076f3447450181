//! The session in the browser. Pages are rendered on the server with the
//! session of their request, so when it changes (signed in or out here or in
//! another tab, or ended) the page is loaded again; when only the access
//! token is renewed, timers move and nothing else does.

use std::future::Future;

use crate::api::{session::refresh, AppFnError};

/// Shown on the sign-in page when the session could not be renewed.
pub const SESSION_ENDED: &str = "Your session has ended. Please sign in again.";

/// What one tab of this site tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Signed in or out: pages are out of date.
    Changed,
    /// The access token was renewed: refresh timers move.
    Refreshed,
    /// The display name changed: headers show the new one.
    Renamed(String),
}

const CHANGED: &str = "changed";
const REFRESHED: &str = "refreshed";
const RENAMED: &str = "renamed:";

impl Message {
    pub fn encode(&self) -> String {
        match self {
            Self::Changed => CHANGED.to_owned(),
            Self::Refreshed => REFRESHED.to_owned(),
            Self::Renamed(name) => format!("{RENAMED}{name}"),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            CHANGED => Some(Self::Changed),
            REFRESHED => Some(Self::Refreshed),
            _ => text
                .strip_prefix(RENAMED)
                .map(|name| Self::Renamed(name.to_owned())),
        }
    }
}

/// Runs `call`; if the server says the session is gone, refreshes once and
/// runs it again. If the server refuses the refresh too, the session has
/// ended; if it could not be asked, the call's error stands.
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
            Err(refused) => {
                #[cfg(feature = "hydrate")]
                if refused.is_unauthenticated() {
                    browser::session_ended();
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = refused;
                Err(e)
            }
        },
        other => other,
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{follow_server_redirects, renamed, signed_out, start, take_notice};

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, time::Duration};

    use leptos::{prelude::*, task::spawn_local};
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{BroadcastChannel, MessageEvent, Storage};

    use super::{Message, SESSION_ENDED};
    use crate::api::session::{get_session, refresh, renewable};

    const CHANNEL: &str = "portcullis-auth";
    /// Per tab (sessionStorage), never secret: the session just ended, for
    /// the sign-in page that comes next.
    const NOTICE_KEY: &str = "portcullis-session-ended";
    /// Per tab: a lapsed session was renewed here, so a page that still
    /// shows signed out does not try again.
    const RENEWED_KEY: &str = "portcullis-renewed";
    /// A refresh that could not reach the server is tried again this soon.
    const RETRY: Duration = Duration::from_secs(15);

    thread_local! {
        // One channel to send and listen on: a channel never hears its own
        // messages, so a tab does not answer what it said itself.
        static TABS: Option<BroadcastChannel> = BroadcastChannel::new(CHANNEL).ok();
        static REFRESH_TIMER: RefCell<Option<TimeoutHandle>> = const { RefCell::new(None) };
    }

    fn announce(message: Message) {
        TABS.with(|tabs| {
            if let Some(tabs) = tabs {
                let _ = tabs.post_message(&message.encode().into());
            }
        });
    }

    /// Server functions redirect only after signing in, up or out, so each
    /// such redirect is news for the other tabs, and an old notice of an
    /// ended session is no longer news here; then the browser follows it.
    pub fn follow_server_redirects() {
        let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
            take(NOTICE_KEY);
            announce(Message::Changed);
            let _ = window().location().set_href(location);
        });
    }

    /// Signing out failed on the server after it cleared this browser's
    /// cookies: the browser is signed out all the same.
    pub fn signed_out() {
        announce(Message::Changed);
        let _ = window().location().set_href("/");
    }

    /// Called once the page's islands have hydrated. `access_expires_in_secs`
    /// is what the access token had left when the server rendered the page;
    /// `signed_out` is false when the server could not tell.
    pub fn start(access_expires_in_secs: Option<i64>, signed_out: bool) {
        listen_to_other_tabs();
        if let Some(secs) = access_expires_in_secs {
            // Not the notice: a call on this very page may just have found
            // the session gone, and the page that shows it is loading.
            take(RENEWED_KEY);
            schedule_refresh(secs);
        } else if signed_out {
            renew_a_lapsed_session();
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
                    Some(Message::Renamed(name)) => show_display_name(&name),
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
    /// out, the tab leaves it at that rather than loop. The other tabs only
    /// move their timers; each renews for itself when it loads.
    fn renew_a_lapsed_session() {
        if take(RENEWED_KEY).is_some() {
            return;
        }
        spawn_local(async {
            if renewable().await == Ok(true) && refresh().await.is_ok() {
                remember(RENEWED_KEY);
                announce(Message::Refreshed);
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
        remember(NOTICE_KEY);
        announce(Message::Changed);
        reload();
    }

    /// Why the session ended, once, if it just did in this tab.
    pub fn take_notice() -> Option<&'static str> {
        take(NOTICE_KEY).map(|_| SESSION_ENDED)
    }

    /// After a rename here: this tab's header and the other tabs' show it.
    pub fn renamed(name: &str) {
        show_display_name(name);
        announce(Message::Renamed(name.to_owned()));
    }

    /// The header is server-rendered, outside any island; it shows the new
    /// name without loading the page again.
    fn show_display_name(name: &str) {
        if let Ok(Some(shown)) = document().query_selector("#account-name") {
            shown.set_text_content(Some(name));
        }
    }

    async fn reschedule() {
        if let Ok(Some(session)) = get_session().await {
            schedule_refresh(session.access_expires_in_secs);
        }
    }

    /// Refreshes a little before the access token expires. Every tab moves
    /// its own timer out when another one refreshed; a small random spread
    /// keeps tabs from firing together, and the server's grace window
    /// absorbs a collision that still happens. Only the server's refusal
    /// ends the session: a refresh that could not reach it (a laptop just
    /// woken, its network not back) is tried again shortly.
    fn schedule_refresh(expires_in_secs: i64) {
        let delay = refresh_delay(expires_in_secs, js_sys::Math::random());
        set_refresh_timer(delay);
    }

    fn set_refresh_timer(delay: Duration) {
        let handle = set_timeout_with_handle(
            || {
                spawn_local(async {
                    match refresh().await {
                        Ok(_) => refreshed(),
                        Err(e) if e.is_unauthenticated() => session_ended(),
                        Err(_) => set_refresh_timer(RETRY),
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

    fn remember(key: &str) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(key, "1");
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
        for message in [
            Message::Changed,
            Message::Refreshed,
            Message::Renamed("Ada: Countess of Lovelace".into()),
            Message::Renamed(String::new()),
        ] {
            assert_eq!(Message::parse(&message.encode()), Some(message));
        }
        assert_eq!(Message::parse("refreshed!"), None);
    }
}
