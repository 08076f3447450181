//! What the server tells its operators: logs and metrics.

pub mod logging;
pub mod metrics;

pub use logging::{escape, init, LogFormat};
