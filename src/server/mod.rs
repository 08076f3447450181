//! Everything that runs only on the server, in layers. Each imports only
//! from those listed before it:
//!
//! - [`platform`]: clock, secrets, allocator, accept loop, logging; no rules.
//! - [`domain`]: plain types the layers above share; no I/O.
//! - [`store`]: the tables; the only place with SQL.
//! - [`credentials`]: passwords, signing keys, tokens, cookies; no SQL, no HTTP.
//! - [`services`]: the use cases, called by the JSON API and the server
//!   functions alike.
//! - [`http`]: axum state, extractors, middleware and JSON routes.
//! - [`config`]: gathers the settings every layer reads for itself.
//! - [`startup`]: builds the application from all of the above.

pub mod cli;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod http;
pub mod platform;
pub mod services;
pub mod startup;
pub mod store;
