//! Key material as its own type, so it never reaches a log or a response.

use std::fmt;

/// Key material that must never reach a log line or a response.
/// Deliberately neither `Serialize` nor `Display`.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// A fresh random secret, for development runs without configuration.
    pub fn random(len: usize) -> Self {
        use rand::RngCore;
        let mut bytes = vec![0u8; len];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_bytes() {
        let secret = Secret::new(b"hunter2-hunter2".to_vec());
        let shown = format!("{secret:?}");
        assert!(!shown.contains("hunter2"));
    }
}
