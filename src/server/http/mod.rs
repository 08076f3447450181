//! The HTTP face: axum state, extractors, middleware and the JSON routes.
//! Pages and server functions are mounted by `startup` through leptos_axum.

pub mod admin_pages;
pub mod assets;
pub mod config;
pub mod effects;
pub mod error;
pub mod extract;
pub mod gate_passes;
pub mod json;
pub mod middleware;
pub mod page_session;
pub mod routes;
pub mod state;
