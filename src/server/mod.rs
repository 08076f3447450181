//! Everything that runs only on the server.

pub mod config;
pub mod db;
pub mod error;
pub mod routes;
pub mod secret;
pub mod startup;
pub mod state;
pub mod telemetry;
