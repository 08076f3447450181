//! Server functions: the UI's calls to the server. Thin: each one calls the
//! same service code as the JSON API. They live under /api/auth/ui so the
//! refresh cookie (Path=/api/auth) reaches them, and they set and clear the
//! same cookies as the JSON API. No token ever appears in their output.

pub mod account;
pub mod admin;
#[cfg(feature = "ssr")]
mod call;
mod error;
pub mod machines;
pub mod security;
pub mod session;

pub use error::AppFnError;
