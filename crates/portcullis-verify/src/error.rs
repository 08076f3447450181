//! Why a token was refused, or keys could not be had.

/// Why a token was refused. Tell the client no more than "401": the
/// variants are for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("token malformed: {0}")]
    Malformed(String),
    /// No key of that `kid` (a key rotation a refetch may bring).
    #[error("unknown signing key")]
    UnknownKey,
    #[error("token invalid: {0}")]
    Invalid(String),
    /// A `kind` this crate does not know, or an `act` (RFC 8693) on a
    /// token that is not an agent's: never taken for a user.
    #[error("token principal refused: {0}")]
    Principal(String),
    #[error("token expired")]
    Expired,
    #[error("keys unusable: {0}")]
    Keys(String),
    #[error("keys could not be fetched: {0}")]
    Fetch(String),
}
