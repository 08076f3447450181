//! Portcullis: a self-hostable authentication service with its own web app.
//!
//! The crate builds twice: with `ssr` into the server binary, with `hydrate`
//! into the WASM bundle. Everything under [`server`] exists only in the first.

// The account page's view is one deep static type (pages no longer break it
// up at a Suspense); the test build's layout computation needs the room.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;

/// Pages are rendered on the server; the browser hydrates only the islands
/// in them (`#[island]` components), so the bundle carries no router and
/// no page that is only HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    components::session_sync::follow_server_redirects();
    leptos::mount::hydrate_islands();
}
