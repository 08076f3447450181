//! Everything that runs only on the server.

pub mod allocator;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod device;
pub mod error;
pub mod headers;
pub mod limits;
pub mod rate_limits;
pub mod refresh_tokens;
pub mod routes;
pub mod secret;
pub mod serve;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod users;
