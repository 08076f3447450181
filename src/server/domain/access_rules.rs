//! Who may reach which service behind the gateway: the operator's rules for
//! forward-auth, matched against the request the proxy is deciding on.
//! The first rule whose host, path and method match decides; a host no rule
//! names is refused.

use std::borrow::Cow;

use http::Method;
use serde::Deserialize;

use super::host_pattern::HostPattern;
use crate::model::{Permission, RoleName};

/// What a matching rule asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Open to everyone, signed in or not.
    Anyone,
    SignedIn,
    Role(RoleName),
    Permission(Permission),
    /// Closed to everyone.
    Nobody,
}

impl Requirement {
    /// `anyone`, `signed-in`, `role:NAME`, `permission:NAME` or `nobody`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "anyone" => Some(Self::Anyone),
            "signed-in" => Some(Self::SignedIn),
            "nobody" => Some(Self::Nobody),
            _ => {
                if let Some(role) = text.strip_prefix("role:") {
                    RoleName::parse(role).map(Self::Role)
                } else {
                    text.strip_prefix("permission:")
                        .and_then(Permission::parse)
                        .map(Self::Permission)
                }
            }
        }
    }
}

/// Which hosts a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hosts {
    Named(HostPattern),
    Any,
}

impl Hosts {
    fn parse(text: &str) -> Option<Self> {
        if text.trim() == "*" {
            return Some(Self::Any);
        }
        HostPattern::parse(text).map(Self::Named)
    }

    fn covers(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Named(pattern) => pattern.covers(host),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    hosts: Hosts,
    /// A path prefix by whole segments: `/admin` covers `/admin` and
    /// `/admin/users`, not `/administrator`.
    path: String,
    /// Empty: every method.
    methods: Vec<Method>,
    requirement: Requirement,
}

impl Rule {
    fn matches(&self, host: &str, path: &str, method: &Method) -> bool {
        self.hosts.covers(host)
            && covers_path(&self.path, path)
            && (self.methods.is_empty() || self.methods.contains(method))
    }
}

fn covers_path(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix.trim_end_matches('/'))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The rules, in the order they are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    rules: Vec<Rule>,
}

/// The rule file as written: `[[rule]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    host: String,
    #[serde(default = "root")]
    path: String,
    #[serde(default)]
    methods: Vec<String>,
    allow: String,
}

fn root() -> String {
    "/".to_owned()
}

impl AccessRules {
    /// The rules of a TOML file of `[[rule]]` tables, each with `host`
    /// (`app.example.com`, `.example.com` or `*`), `path` (a prefix,
    /// default `/`), `methods` (default all) and `allow`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: RuleFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let rules = file
            .rule
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let n = i + 1;
                let hosts = Hosts::parse(&entry.host)
                    .ok_or_else(|| format!("rule {n}: `{}` is not a host name", entry.host))?;
                let path_ok = entry.path.starts_with('/')
                    && !entry.path.contains("//")
                    && !entry.path.contains(['\\', '%', '?', '#'])
                    && !entry.path.split('/').any(|s| s == "." || s == "..")
                    && !entry.path.chars().any(|c| c.is_control() || c == ' ');
                if !path_ok {
                    return Err(format!(
                        "rule {n}: path `{}` must be a plain path starting with /",
                        entry.path
                    ));
                }
                let methods = entry
                    .methods
                    .iter()
                    .map(|m| {
                        Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                            .map_err(|_| format!("rule {n}: `{m}` is not a method"))
                    })
                    .collect::<Result<_, _>>()?;
                let requirement = Requirement::parse(&entry.allow).ok_or_else(|| {
                    format!(
                        "rule {n}: allow = `{}`: expected anyone, signed-in, nobody, \
                         role:NAME or permission:NAME",
                        entry.allow
                    )
                })?;
                Ok(Rule {
                    hosts,
                    path: entry.path,
                    methods,
                    requirement,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { rules })
    }

    /// Every host named (exact or under a domain) requires a signed-in
    /// user: the rules when no file is given.
    pub fn signed_in_on(hosts: &[HostPattern]) -> Self {
        let rules = hosts
            .iter()
            .map(|pattern| Rule {
                hosts: Hosts::Named(pattern.clone()),
                path: root(),
                methods: Vec::new(),
                requirement: Requirement::SignedIn,
            })
            .collect();
        Self { rules }
    }

    /// What the first matching rule requires; `None`: no rule covers this
    /// request, so it is refused. `host` is lower case, without a port;
    /// `path` is decoded and normalised (see [`plain_path`]).
    pub fn requirement(&self, host: &str, path: &str, method: &Method) -> Option<&Requirement> {
        self.rules
            .iter()
            .find(|rule| rule.matches(host, path, method))
            .map(|rule| &rule.requirement)
    }
}

/// The path rules are matched against: percent-decoded, with dot segments
/// already resolved by the URL parser. `None` when it could be read two
/// ways (an encoded slash, backslash or dot segment, a dot segment with
/// parameters like `..;`, which Java servers resolve, a doubled slash, a
/// control character): such a request is refused rather than guessed at,
/// since the service behind may read it differently from the rules.
/// Matching is case-sensitive, as URL paths are.
pub fn plain_path(path: &str) -> Option<Cow<'_, str>> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let ambiguous = !decoded.starts_with('/')
        || decoded.contains("//")
        || decoded.contains('\\')
        || decoded.contains('%') && decoded.as_ref() != path
        || decoded.split('/').any(|segment| {
            let bare = segment.split(';').next().unwrap_or_default();
            bare == "." || bare == ".."
        })
        || decoded.chars().any(char::is_control);
    (!ambiguous).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        [[rule]]
        host = "app.example.com"
        path = "/admin"
        allow = "role:admin"

        [[rule]]
        host = "app.example.com"
        path = "/reports"
        methods = ["post", "DELETE"]
        allow = "permission:audit:read"

        [[rule]]
        host = "app.example.com"
        path = "/public/"
        allow = "anyone"

        [[rule]]
        host = ".example.com"
        allow = "signed-in"

        [[rule]]
        host = "*"
        path = "/closed"
        allow = "nobody"
    "#;

    fn decide<'a>(
        rules: &'a AccessRules,
        host: &str,
        path: &str,
        method: &str,
    ) -> Option<&'a Requirement> {
        rules.requirement(host, path, &Method::from_bytes(method.as_bytes()).unwrap())
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = AccessRules::parse(FILE).unwrap();
        let admin = Requirement::Role(RoleName::parse("admin").unwrap());
        assert_eq!(
            decide(&rules, "app.example.com", "/admin", "GET"),
            Some(&admin)
        );
        assert_eq!(
            decide(&rules, "app.example.com", "/admin/users", "GET"),
            Some(&admin)
        );
        assert_eq!(
            decide(&rules, "app.example.com", "/administrator", "GET"),
            Some(&Requirement::SignedIn)
        );
        assert_eq!(
            decide(&rules, "app.example.com", "/reports", "POST"),
            Some(&Requirement::Permission(Permission::AuditRead))
        );
        assert_eq!(
            decide(&rules, "app.example.com", "/reports", "GET"),
            Some(&Requirement::SignedIn)
        );
        assert_eq!(
            decide(&rules, "app.example.com", "/public/logo.svg", "GET"),
            Some(&Requirement::Anyone)
        );
        assert_eq!(
            decide(&rules, "example.com", "/", "GET"),
            Some(&Requirement::SignedIn)
        );
        assert_eq!(
            decide(&rules, "other.org", "/closed/x", "GET"),
            Some(&Requirement::Nobody)
        );
        // No rule names this host.
        assert_eq!(decide(&rules, "other.org", "/", "GET"), None);
        assert_eq!(decide(&rules, "evilexample.com", "/", "GET"), None);
    }

    #[test]
    fn bad_rule_files_say_which_rule() {
        for (file, says) in [
            ("[[rule]]\nhost = \"a b\"\nallow = \"anyone\"", "rule 1"),
            (
                "[[rule]]\nhost = \"a.com\"\nallow = \"role:Admin\"",
                "role:Admin",
            ),
            (
                "[[rule]]\nhost = \"a.com\"\nallow = \"permission:x\"",
                "permission:x",
            ),
            (
                "[[rule]]\nhost = \"a.com\"\npath = \"admin\"\nallow = \"anyone\"",
                "path",
            ),
            (
                "[[rule]]\nhost = \"a.com\"\npath = \"/a/../b\"\nallow = \"anyone\"",
                "path",
            ),
            (
                "[[rule]]\nhost = \"a.com\"\nmethods = [\"G T\"]\nallow = \"anyone\"",
                "method",
            ),
            ("[[rule]]\nhost = \"a.com\"\nalow = \"anyone\"", "alow"),
            ("[[rule]]\nallow = \"anyone\"", "host"),
        ] {
            let err = AccessRules::parse(file).unwrap_err();
            assert!(err.contains(says), "{file}: {err}");
        }
    }

    #[test]
    fn paths_that_read_two_ways_are_refused() {
        assert_eq!(plain_path("/a/b").as_deref(), Some("/a/b"));
        assert_eq!(plain_path("/%61dmin").as_deref(), Some("/admin"));
        assert_eq!(plain_path("/caf%C3%A9").as_deref(), Some("/café"));
        for path in [
            "/public%2f..%2fadmin",
            "/public/..;/admin",
            "/public/.;x/admin",
            "/public/%2e%2e/admin",
            "/public%5cadmin",
            "/public\\admin",
            "//admin",
            "/a/%00",
            "/%ff",
            "/100%2525",
        ] {
            assert_eq!(plain_path(path), None, "{path}");
        }
    }
}
