//! A host name as operators write them in settings: `app.example.com`
//! (that host) or `.example.com` (the domain and every host under it).
//! Return URLs, forward-auth rules and the shared cookie's domain all
//! match hosts this one way.

use url::Host;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// One name, lower case, in ASCII (IDNs as punycode).
    Exact(String),
    /// `.example.com`, kept as `example.com`.
    Domain(String),
}

impl HostPattern {
    /// `app.example.com` or `.example.com`, parsed as a browser would; an
    /// address or anything else that is no DNS name is `None`.
    pub fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        let (domain, name) = match entry.strip_prefix('.') {
            Some(name) => (true, name),
            None => (false, entry),
        };
        match Host::parse(name) {
            Ok(Host::Domain(ascii)) if domain => Some(Self::Domain(ascii)),
            Ok(Host::Domain(ascii)) => Some(Self::Exact(ascii)),
            _ => None,
        }
    }

    /// The name as written, without the leading dot.
    pub fn name(&self) -> &str {
        match self {
            Self::Exact(name) | Self::Domain(name) => name,
        }
    }

    /// Whether `host` (lower case, ASCII, no port) is this one.
    pub fn covers(&self, host: &str) -> bool {
        match self {
            Self::Exact(name) => name == host,
            Self::Domain(domain) => is_at_or_under(host, domain),
        }
    }
}

/// Whether `host` is `domain` or a name under it (`a.example.com` is
/// under `example.com`; `badexample.com` is not).
pub fn is_at_or_under(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_domains_cover_what_they_say() {
        let exact = HostPattern::parse("App.Example.com").unwrap();
        assert!(exact.covers("app.example.com") && !exact.covers("x.app.example.com"));
        let domain = HostPattern::parse(".example.com").unwrap();
        for host in ["example.com", "a.example.com", "a.b.example.com"] {
            assert!(domain.covers(host), "{host}");
        }
        assert!(!domain.covers("badexample.com") && !domain.covers("example.com.evil"));
        for bad in ["10.0.0.1", "[::1]", "a b", "https://x.com", ""] {
            assert_eq!(HostPattern::parse(bad), None, "{bad}");
        }
    }
}
