pub mod auth_state;
pub mod form;
pub mod layout;
