//! A password hash as stored: written by `credentials::password`, kept by
//! `store::users`, never printed.

/// A PHC string as stored in the database. Never printed.
#[derive(Clone)]
pub struct StoredHash(pub String);

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredHash([redacted])")
    }
}
