//! Server functions: the UI's calls to the server. Thin: each one calls the
//! same service code as the JSON API.

pub mod auth;
