pub mod auth_state;
pub mod form;
pub mod keys;
pub mod layout;
pub mod return_to;
pub mod session_keeper;
pub mod session_sync;
pub mod sign_out;
