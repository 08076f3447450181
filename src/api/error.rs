//! The error every server function returns: a refusal the person can read,
//! or a failure to reach the server at all.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::model::ErrorCode;

/// What the UI shows when a call is refused: a stable code and a message
/// meant for the person using the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppFnError {
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("{0}")]
    Transport(ServerFnErrorErr),
}

impl AppFnError {
    /// Why the server refused; `None` when it was not reached.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            Self::Transport(_) => None,
        }
    }

    /// What to show the person.
    pub fn user_message(&self) -> String {
        match self {
            Self::Refused { message, .. } => message.clone(),
            Self::Transport(_) => {
                "Portcullis could not be reached. Check your connection and try again.".into()
            }
        }
    }

    /// True when a refresh (or, if that fails, a sign-in) is needed: the
    /// access token lapsed, or it is stale (the user's authorization
    /// changed since it was made).
    pub fn is_unauthenticated(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::Unauthenticated | ErrorCode::StaleAuthorization)
        )
    }
}

impl FromServerFnError for AppFnError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value)
    }
}
