use leptos::prelude::*;

/// Keeps the session alive in the browser: refreshes the access token
/// before it expires, renews one that lapsed while no page was open, and
/// follows sign-ins and sign-outs in other tabs. Last in the page, so it
/// hydrates after every other island.
#[island]
pub fn SessionKeeper(
    /// Seconds the access token had left when the page was rendered; `None`
    /// when not signed in.
    access_expires_in_secs: Option<i64>,
    /// Known to be signed out; false also when the server could not tell
    /// (then the keeper leaves the session alone).
    signed_out: bool,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| super::session_sync::start(access_expires_in_secs, signed_out));
    #[cfg(not(feature = "hydrate"))]
    let _ = (access_expires_in_secs, signed_out);
}
