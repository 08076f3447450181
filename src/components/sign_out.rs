use leptos::prelude::*;

use crate::{api::session::Logout, components::form::SubmitButton};

/// A sign-out button: a plain form post without WASM; with it, a fetch
/// whose redirect also tells the other tabs (see `session_sync`).
#[island]
pub fn SignOutButton() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    // The server clears the cookies even when it then fails to end the
    // session (no redirect comes back): this browser is signed out anyway.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(Err(e)) = logout.value().get() {
            if e.code().is_some() {
                crate::components::session_sync::signed_out();
            }
        }
    });
    view! {
        <ActionForm action=logout attr:class="inline-form">
            <SubmitButton label="Sign out" busy_label="Signing out…" pending=logout.pending()/>
        </ActionForm>
    }
}
