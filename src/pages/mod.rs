pub mod account;
pub mod admin;
pub mod agents;
pub mod home;
pub mod login;
pub mod not_found;
pub mod signup;
