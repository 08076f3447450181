//! Plain types shared by the layers above: no I/O, no SQL, no HTTP.

pub mod access_rules;
pub mod client;
pub mod device;
pub mod events;
pub mod grants;
pub mod host_pattern;
pub mod machines;
pub mod password_hash;
pub mod return_to;
