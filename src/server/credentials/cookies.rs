//! The one module that builds and removes session cookies. Removal uses
//! the same name, path and attributes as creation, or browsers keep the old.

use axum::http::{header, HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use tower_cookies::{
    cookie::{time, SameSite},
    Cookie,
};

use super::{device_cookies::DEVICE_COOKIE_TTL, tokens::TokenPair};
use crate::server::{
    domain::host_pattern::HostPattern,
    platform::env::{invalid, ConfigError, Env},
};

/// Path of the refresh cookie: only the auth endpoints (JSON and the UI's
/// server functions) ever receive it.
pub const REFRESH_COOKIE_PATH: &str = "/api/auth";

/// A cookie that would not make a valid header: a token with bytes no
/// token should have.
#[derive(Debug, thiserror::Error)]
#[error("the {name} cookie is not a valid header value")]
pub struct CookieError {
    name: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookies {
    secure: bool,
    /// Where the access cookie is sent besides this host: a domain and
    /// every host under it, so the services behind the same ingress get
    /// it too. `None`: this host only.
    domain: Option<String>,
}

impl SessionCookies {
    pub fn new(secure: bool) -> Self {
        Self {
            secure,
            domain: None,
        }
    }

    /// The access cookie also goes to `domain` and the hosts under it.
    pub fn with_domain(self, domain: Option<String>) -> Self {
        Self { domain, ..self }
    }

    /// Secure cookies by default in production, and only those there.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let secure = env.bool("PORTCULLIS_COOKIE_SECURE", production)?;
        if production && !secure {
            return Err(invalid(
                "PORTCULLIS_COOKIE_SECURE",
                "must be true in production: session cookies would travel without TLS",
            ));
        }
        let domain = env
            .get("PORTCULLIS_COOKIE_DOMAIN")
            .map(|value| parse_domain(&value))
            .transpose()?;
        Ok(Self { secure, domain })
    }

    /// Whether the cookies are sent over TLS only; then so is everything.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The domain the access cookie is shared with, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// `__Host-` pins the cookie to this host and path `/`, Secure only; a
    /// cookie shared with a domain cannot be `__Host-`, so it is
    /// `__Secure-`.
    pub fn access_name(&self) -> &'static str {
        match (self.secure, &self.domain) {
            (true, None) => "__Host-portcullis_access",
            (true, Some(_)) => "__Secure-portcullis_access",
            (false, _) => "portcullis_access",
        }
    }

    /// The device cookie (see `device_cookies`): sent only to sign-in.
    pub fn device_name(&self) -> &'static str {
        if self.secure {
            "__Secure-portcullis_device"
        } else {
            "portcullis_device"
        }
    }

    pub fn device(&self, value: &str) -> Result<HeaderValue, CookieError> {
        self.build(
            self.device_name(),
            value,
            REFRESH_COOKIE_PATH,
            SameSite::Strict,
            DEVICE_COOKIE_TTL.num_seconds(),
        )
    }

    pub fn read_device(&self, headers: &HeaderMap) -> Option<String> {
        read_cookie(headers, self.device_name())
    }

    pub fn refresh_name(&self) -> &'static str {
        if self.secure {
            "__Secure-portcullis_refresh"
        } else {
            "portcullis_refresh"
        }
    }

    pub fn access(&self, token: &str, max_age_secs: i64) -> Result<HeaderValue, CookieError> {
        self.build_access(token, max_age_secs)
    }

    /// The access cookie, host-only or for the shared domain.
    fn build_access(&self, value: &str, max_age_secs: i64) -> Result<HeaderValue, CookieError> {
        let name = self.access_name();
        let mut cookie = self.cookie(name, value, "/", SameSite::Lax, max_age_secs);
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        header_value(name, &cookie)
    }

    pub fn refresh(&self, token: &str, max_age_secs: i64) -> Result<HeaderValue, CookieError> {
        self.build(
            self.refresh_name(),
            token,
            REFRESH_COOKIE_PATH,
            SameSite::Strict,
            max_age_secs,
        )
    }

    /// Set-Cookie values for a freshly issued session: each cookie lives
    /// exactly as long as its token.
    pub fn for_session(
        &self,
        tokens: &TokenPair,
        now: DateTime<Utc>,
    ) -> Result<[HeaderValue; 2], CookieError> {
        Ok([
            self.access(
                &tokens.access_token,
                (tokens.access_expires_at - now).num_seconds(),
            )?,
            self.refresh(
                tokens.refresh_token.expose(),
                (tokens.refresh_expires_at - now).num_seconds(),
            )?,
        ])
    }

    /// Set-Cookie values that delete both cookies.
    pub fn clear_both(&self) -> Result<[HeaderValue; 2], CookieError> {
        Ok([
            self.build_access("", 0)?,
            self.build(
                self.refresh_name(),
                "",
                REFRESH_COOKIE_PATH,
                SameSite::Strict,
                0,
            )?,
        ])
    }

    fn build(
        &self,
        name: &'static str,
        value: &str,
        path: &'static str,
        same_site: SameSite,
        max_age_secs: i64,
    ) -> Result<HeaderValue, CookieError> {
        header_value(
            name,
            &self.cookie(name, value, path, same_site, max_age_secs),
        )
    }

    fn cookie(
        &self,
        name: &'static str,
        value: &str,
        path: &'static str,
        same_site: SameSite,
        max_age_secs: i64,
    ) -> Cookie<'static> {
        Cookie::build((name, value.to_owned()))
            .path(path)
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .max_age(time::Duration::seconds(max_age_secs.max(0)))
            .build()
    }

    pub fn read_access(&self, headers: &HeaderMap) -> Option<String> {
        read_cookie(headers, self.access_name())
    }

    pub fn read_refresh(&self, headers: &HeaderMap) -> Option<String> {
        read_cookie(headers, self.refresh_name())
    }
}

// Tokens are base64url and JWTs, so this fails only on a bug; then the
// response fails too, rather than carry a broken cookie.
fn header_value(name: &'static str, cookie: &Cookie<'_>) -> Result<HeaderValue, CookieError> {
    HeaderValue::from_str(&cookie.to_string()).map_err(|_| CookieError { name })
}

/// `PORTCULLIS_COOKIE_DOMAIN`: a host name with at least one dot, without
/// a leading dot (browsers ignore it) or a port.
fn parse_domain(value: &str) -> Result<String, ConfigError> {
    HostPattern::parse(value)
        .map(|pattern| pattern.name().to_owned())
        .filter(|name| name.contains('.') && !name.ends_with('.'))
        .ok_or_else(|| {
            invalid(
                "PORTCULLIS_COOKIE_DOMAIN",
                format!("expected a domain like example.com, got `{value}`"),
            )
        })
}

/// The cookie `name`, if sent exactly once. Two of the same name mean
/// someone else planted one (a sibling subdomain can, with a longer path
/// so that it comes first): both are refused rather than "first one wins".
fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name && !c.value().is_empty());
    let first = found.next()?;
    if found.next().is_some() {
        tracing::warn!(cookie = name, "the cookie was sent twice: both refused");
        return None;
    }
    Some(first.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_use_host_and_secure_prefixes() {
        let c = SessionCookies::new(true);
        let access = c.access("t", 900).unwrap();
        let access = access.to_str().unwrap();
        assert!(access.starts_with("__Host-portcullis_access=t"));
        for attr in [
            "HttpOnly",
            "Secure",
            "Path=/",
            "SameSite=Lax",
            "Max-Age=900",
        ] {
            assert!(access.contains(attr), "{access} lacks {attr}");
        }
        let refresh = c.refresh("r", 60).unwrap();
        let refresh = refresh.to_str().unwrap();
        assert!(refresh.starts_with("__Secure-portcullis_refresh=r"));
        for attr in ["HttpOnly", "Secure", "Path=/api/auth", "SameSite=Strict"] {
            assert!(refresh.contains(attr), "{refresh} lacks {attr}");
        }
    }

    #[test]
    fn a_shared_access_cookie_names_its_domain_and_the_refresh_cookie_stays_home() {
        let c = SessionCookies::new(true).with_domain(Some("example.com".into()));
        let access = c.access("t", 900).unwrap();
        let access = access.to_str().unwrap();
        assert!(
            access.starts_with("__Secure-portcullis_access=t"),
            "{access}"
        );
        assert!(access.contains("Domain=example.com"), "{access}");
        let [cleared, refresh] = c.clear_both().unwrap();
        assert!(cleared.to_str().unwrap().contains("Domain=example.com"));
        assert!(!refresh.to_str().unwrap().contains("Domain"));
        let refresh = c.refresh("r", 60).unwrap();
        assert!(!refresh.to_str().unwrap().contains("Domain"));
        for bad in [
            "com",
            "exa mple.com",
            "https://example.com",
            "example.com:443",
            "",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_domain(".Example.COM").unwrap(), "example.com");
    }

    #[test]
    fn clearing_matches_the_attributes_of_creation() {
        let c = SessionCookies::new(false);
        let [access, refresh] = c.clear_both().unwrap();
        let (access, refresh) = (access.to_str().unwrap(), refresh.to_str().unwrap());
        assert!(
            access.starts_with("portcullis_access=;")
                && access.contains("Max-Age=0")
                && access.contains("Path=/")
        );
        assert!(refresh.contains("Max-Age=0") && refresh.contains("Path=/api/auth"));
        assert!(!access.contains("Secure"));
    }

    #[test]
    fn a_value_that_cannot_be_a_header_is_an_error_not_an_empty_cookie() {
        let c = SessionCookies::new(false);
        assert!(c.access("line\nbreak", 60).is_err());
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let c = SessionCookies::new(false);
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; portcullis_access=abc"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("portcullis_refresh=def"),
        );
        assert_eq!(c.read_access(&headers).as_deref(), Some("abc"));
        assert_eq!(c.read_refresh(&headers).as_deref(), Some("def"));
    }

    #[test]
    fn a_cookie_sent_twice_is_refused_not_first_one_wins() {
        let c = SessionCookies::new(false);
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("portcullis_refresh=planted; portcullis_access=abc"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("portcullis_refresh=mine"),
        );
        assert_eq!(c.read_refresh(&headers), None);
        assert_eq!(c.read_access(&headers).as_deref(), Some("abc"));
        let mut one_header = HeaderMap::new();
        one_header.append(
            header::COOKIE,
            HeaderValue::from_static("portcullis_access=a; portcullis_access=b"),
        );
        assert_eq!(c.read_access(&one_header), None);
    }
}
