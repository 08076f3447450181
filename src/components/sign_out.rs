use leptos::prelude::*;

use crate::{api::session::Logout, components::form::SubmitButton};

/// A sign-out button: a plain form post without WASM; with it, a fetch
/// whose redirect also tells the other tabs (see `session_sync`).
#[island]
pub fn SignOutButton() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=logout attr:class="inline-form">
            <SubmitButton label="Sign out" busy_label="Signing out…" pending=logout.pending()/>
        </ActionForm>
    }
}
