//! Who is on the other end of a request, as far as the server can tell.

/// Where a request came from, for the audit log and sessions.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}
