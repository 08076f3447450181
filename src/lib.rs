//! Portcullis: a self-hostable authentication service with its own web app.
//!
//! The crate builds twice: with `ssr` into the server binary, with `hydrate`
//! into the WASM bundle. Everything under [`server`] exists only in the first.

pub mod api;
pub mod app;
pub mod components;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: the routes whose code is in another part of the bundle hydrate
    // once it has loaded.
    leptos::mount::hydrate_lazy(app::App);
}
