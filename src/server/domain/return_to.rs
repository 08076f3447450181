//! Where a browser may be sent after signing in: a path on this site, or
//! an absolute URL on a host the operator allowed
//! (`PORTCULLIS_ALLOWED_RETURN_HOSTS`), so a service behind the same
//! ingress can send its visitors to sign in and get them back. Anything
//! else is refused, and the caller falls back to `/`: an open redirect on
//! a sign-in page is a phishing tool.

use url::{Host, Url};

use super::host_pattern::HostPattern;
use crate::validate::safe_next;

/// The longest return URL kept.
const MAX_LEN: usize = 2048;

/// The hosts return URLs may name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnHosts {
    hosts: Vec<HostPattern>,
    /// Plain `http` is refused (production).
    https_only: bool,
}

impl ReturnHosts {
    /// A comma-separated list of host names (`app.example.com`) and
    /// domains (`.example.com`); an empty list allows none.
    pub fn parse(list: &str, https_only: bool) -> Result<Self, String> {
        let mut hosts = Self {
            https_only,
            ..Self::default()
        };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let pattern = HostPattern::parse(entry)
                .filter(|p| p.name().contains('.') || p.name() == "localhost")
                .ok_or_else(|| format!("`{entry}` is not a host name"))?;
            hosts.hosts.push(pattern);
        }
        Ok(hosts)
    }

    /// Where to send the browser for `target`, or `None` (then `/`).
    pub fn check(&self, target: &str) -> Option<String> {
        if let Some(path) = safe_next(target) {
            return Some(path.to_owned());
        }
        // The URL parser forgives what a browser might read otherwise.
        let plain = target.len() <= MAX_LEN
            && !target.contains('\\')
            && !target.chars().any(|c| c.is_control() || c.is_whitespace());
        if !plain {
            return None;
        }
        let url = Url::parse(target).ok()?;
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => !self.https_only,
            _ => false,
        };
        if !scheme_ok || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        match url.host()? {
            Host::Domain(host) if self.allows(host) => Some(url.to_string()),
            // Addresses are never configured names.
            _ => None,
        }
    }

    /// The allowed hosts.
    pub fn patterns(&self) -> &[HostPattern] {
        &self.hosts
    }

    fn allows(&self, host: &str) -> bool {
        self.hosts.iter().any(|pattern| pattern.covers(host))
    }
}

#[cfg(test)]
mod tests {
    use super::ReturnHosts;

    fn hosts() -> ReturnHosts {
        ReturnHosts::parse("app.example.com, .example.org", true).unwrap()
    }

    #[test]
    fn paths_on_this_site_and_allowed_hosts_pass() {
        let hosts = hosts();
        assert_eq!(hosts.check("/account").as_deref(), Some("/account"));
        for (given, sent) in [
            (
                "https://app.example.com/x?y=1#z",
                "https://app.example.com/x?y=1#z",
            ),
            ("https://APP.example.com", "https://app.example.com/"),
            ("https://example.org/", "https://example.org/"),
            ("https://a.b.example.org/p", "https://a.b.example.org/p"),
            (
                "https://app.example.com:8443/",
                "https://app.example.com:8443/",
            ),
            // Full-width dots are dots to a browser too (UTS 46), and the
            // URL sent on is the plain spelling.
            (
                "https://app\u{ff0e}example\u{ff0e}com/",
                "https://app.example.com/",
            ),
        ] {
            assert_eq!(hosts.check(given).as_deref(), Some(sent), "{given}");
        }
    }

    #[test]
    fn tricks_are_refused() {
        let hosts = hosts();
        for target in [
            // Not allowed, or only looks allowed.
            "https://evil.com/",
            "https://app.example.com.evil.com/",
            "https://evilexample.org/",
            "https://example.com/",
            // Userinfo: the host is what follows the @.
            "https://app.example.com@evil.com/",
            "https://app.example.com:pw@evil.com/",
            "https://evil.com@app.example.com/",
            // Backslashes, which browsers read as slashes.
            "https://evil.com\\@app.example.com/",
            "https:\\\\evil.com",
            "/\\evil.com",
            // Protocol-relative and scheme tricks.
            "//evil.com",
            "///evil.com",
            "//app.example.com",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://app.example.com/",
            "http://app.example.com/",
            // Encoded slashes and dots in the host.
            "https://evil.com%2f.example.org/",
            "https://evil.com%2F@app.example.com/",
            "https://evil%2ecom/",
            // A look-alike: Cyrillic а.
            "https://аpp.example.com/",
            // Addresses, white space and control characters.
            "https://127.0.0.1/",
            "https://[::1]/",
            " https://app.example.com/",
            "https://app.example.com/\n",
            "https://app.example.com/\tx",
        ] {
            assert_eq!(hosts.check(target), None, "{target:?}");
        }
    }

    #[test]
    fn http_is_allowed_outside_production_and_idns_are_compared_as_punycode() {
        let hosts = ReturnHosts::parse("app.example.com, bücher.example", false).unwrap();
        assert!(hosts.check("http://app.example.com/").is_some());
        assert_eq!(
            hosts.check("https://bücher.example/").as_deref(),
            Some("https://xn--bcher-kva.example/")
        );
        assert_eq!(hosts.check("https://bucher.example/"), None);
    }

    #[test]
    fn a_bad_list_names_its_bad_entry() {
        for list in [
            "app.example.com, exa mple.com",
            "https://x.com",
            ".",
            "a/b.com",
        ] {
            assert!(ReturnHosts::parse(list, true).is_err(), "{list}");
        }
        assert_eq!(
            ReturnHosts::parse("", true).unwrap(),
            ReturnHosts::default().https(true)
        );
    }

    /// Thousands of targets spliced from pieces of known tricks: whatever
    /// passes is a plain local path or an https URL whose host, as a
    /// browser parses it, is an allowed one, with no userinfo.
    #[test]
    fn spliced_tricks_never_pass_for_another_host() {
        use rand::{Rng, SeedableRng};

        const PIECES: &[&str] = &[
            "https:",
            "http:",
            "//",
            "/",
            "\\",
            "\\",
            "@",
            ":",
            "?",
            "#",
            ".",
            "%2f",
            "%2F",
            "%5c",
            "%40",
            "%2e",
            "%00",
            "\t",
            " ",
            "app.example.com",
            "example.org",
            "evil.com",
            "app\u{ff0e}example\u{ff0e}com",
            "аpp",
            "xn--",
            "javascript:",
            "data:",
            "127.0.0.1",
            "[::1]",
            ":443",
            "user:pw",
            "..",
            "%252f",
        ];
        let hosts = hosts();
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        let mut passed = 0;
        for _ in 0..20_000 {
            let target: String = (0..rng.gen_range(1..=7))
                .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
                .collect();
            let Some(sent) = hosts.check(&target) else {
                continue;
            };
            passed += 1;
            if sent.starts_with('/') {
                assert!(
                    !sent.starts_with("//") && !sent.contains('\\'),
                    "{target:?} -> {sent:?}"
                );
                continue;
            }
            let url = url::Url::parse(&sent).unwrap();
            assert_eq!(url.scheme(), "https", "{target:?}");
            assert!(
                url.username().is_empty() && url.password().is_none(),
                "{target:?}"
            );
            let host = url.host_str().unwrap();
            assert!(
                host == "app.example.com"
                    || host == "example.org"
                    || host.ends_with(".example.org"),
                "{target:?} -> {sent:?}"
            );
        }
        assert!(
            passed > 100,
            "the pieces make some allowed targets too ({passed})"
        );
    }

    impl ReturnHosts {
        fn https(mut self, on: bool) -> Self {
            self.https_only = on;
            self
        }
    }
}
