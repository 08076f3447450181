//! Leaf infrastructure: nothing here knows about users or sessions.

pub mod allocator;
pub mod clock;
pub mod env;
pub mod jobs;
pub mod secret;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
