//! Input rules shared by the server and the WASM bundle, so the browser can
//! show the same verdict before submitting. Types here are "parsed": once
//! built, their content is known to follow the rules.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use crate::model::ErrorCode;

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const EMAIL_MAX_BYTES: usize = 254;
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;

/// Why an input was refused; `message()` is written for the person typing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValidationError {
    EmailInvalid,
    PasswordTooShort,
    PasswordTooLong,
    /// Too easy to guess; the text says why when the estimator knows.
    PasswordTooGuessable(String),
    DisplayNameInvalid,
}

impl ValidationError {
    /// A stable machine-readable code for API clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::EmailInvalid => ErrorCode::InvalidEmail,
            Self::PasswordTooShort => ErrorCode::PasswordTooShort,
            Self::PasswordTooLong => ErrorCode::PasswordTooLong,
            Self::PasswordTooGuessable(_) => ErrorCode::PasswordTooWeak,
            Self::DisplayNameInvalid => ErrorCode::InvalidDisplayName,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::EmailInvalid => "Enter a valid email address, like name@example.com.".into(),
            Self::PasswordTooShort => {
                format!("Use at least {PASSWORD_MIN_CHARS} characters for your password.")
            }
            Self::PasswordTooLong => {
                format!("Use at most {PASSWORD_MAX_CHARS} characters for your password.")
            }
            Self::PasswordTooGuessable(why) => {
                format!("This password is too easy to guess. {why}")
            }
            Self::DisplayNameInvalid => format!(
                "Use 1 to {DISPLAY_NAME_MAX_CHARS} characters for your name, without control characters."
            ),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ValidationError {}

/// A syntactically valid email address in its one canonical form: trimmed,
/// lower-cased, NFKC-normalised (fullwidth letters are plain ones), and on
/// the server with its domain as an IDNA A-label (`bücher.de` is
/// `xn--bcher-kva.de`), so every spelling of an address is one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        // Refuse the absurd before normalising: NFKC can expand the input.
        if raw.len() > EMAIL_MAX_BYTES * 4 {
            return Err(ValidationError::EmailInvalid);
        }
        let normalized = ascii_domain(nfkc(raw.trim()).trim().to_lowercase())?;
        if normalized.len() > EMAIL_MAX_BYTES
            || !email_address::EmailAddress::is_valid(&normalized)
            // The crate accepts quoted local parts and IP literals; sign-in
            // addresses are plain mailbox@domain.name.
            || normalized.contains(['"', '[', ' '])
            || !normalized
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.'))
        {
            return Err(ValidationError::EmailInvalid);
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, a default display name.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

/// A password of acceptable length, NFKC-normalised so the same password
/// typed on different keyboards hashes the same. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// Length rules only.
    pub fn parse_any(raw: &str) -> Result<Self, ValidationError> {
        let password = Self::parse_for_sign_in(raw)?;
        if password.0.chars().count() < PASSWORD_MIN_CHARS {
            return Err(ValidationError::PasswordTooShort);
        }
        Ok(password)
    }

    /// What a sign-in attempt needs: only the upper bound, so an over-long
    /// input is refused before any hashing. Too-short passwords simply fail
    /// to match.
    pub fn parse_for_sign_in(raw: &str) -> Result<Self, ValidationError> {
        // Refuse the absurd before normalising: NFKC can expand the input.
        if raw.len() > PASSWORD_MAX_CHARS * 4 {
            return Err(ValidationError::PasswordTooLong);
        }
        let normalized = nfkc(raw);
        if normalized.chars().count() > PASSWORD_MAX_CHARS {
            return Err(ValidationError::PasswordTooLong);
        }
        Ok(Self(normalized))
    }

    /// Every rule for a new password: length, then guessability given the
    /// user's own details (`context`: email, name).
    pub fn parse_new(raw: &str, context: &[&str]) -> Result<Self, ValidationError> {
        let password = Self::parse_any(raw)?;
        if let Some(why) = obvious_weakness(&password.0, context) {
            return Err(ValidationError::PasswordTooGuessable(why.to_owned()));
        }
        strength::check(&password.0, context)?;
        Ok(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// NFKC normal form. The browser has it built in (`String.normalize`), so
/// the WASM bundle borrows that instead of shipping Unicode's tables.
#[cfg(not(feature = "hydrate"))]
fn nfkc(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfkc().collect()
}

/// The domain as an IDNA A-label. Only the server converts: the browser's
/// check is a hint, and the tables would weigh on the WASM bundle.
#[cfg(feature = "ssr")]
fn ascii_domain(email: String) -> Result<String, ValidationError> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Ok(email);
    };
    if domain.is_ascii() {
        return Ok(email);
    }
    let domain = idna::domain_to_ascii(domain).map_err(|_| ValidationError::EmailInvalid)?;
    Ok(format!("{local}@{domain}"))
}

#[cfg(not(feature = "ssr"))]
fn ascii_domain(email: String) -> Result<String, ValidationError> {
    Ok(email)
}

#[cfg(feature = "hydrate")]
fn nfkc(raw: &str) -> String {
    js_sys::JsString::from(raw)
        .normalize("NFKC")
        .as_string()
        .unwrap_or_else(|| raw.to_owned())
}

/// A display name: trimmed, 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > DISPLAY_NAME_MAX_CHARS || trimmed.chars().any(char::is_control) {
            return Err(ValidationError::DisplayNameInvalid);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A name derived from the email when none was given.
    pub fn from_email(email: &Email) -> Self {
        let local: String = email
            .local_part()
            .chars()
            .take(DISPLAY_NAME_MAX_CHARS)
            .collect();
        Self::parse(&local).unwrap_or_else(|_| Self("User".to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Words that make up most of the passwords in breach lists.
const COMMON_WORDS: &[&str] = &[
    "password",
    "passw0rd",
    "qwerty",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "login",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "trustno",
    "secret",
    "hello",
    "abc",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
];

/// The most common kinds of guessable password, checked the same way in
/// the browser and on the server (which then also runs zxcvbn, too large to
/// ship to the browser): a few characters repeated, a straight run, a
/// common word padded with digits and symbols, or the person's own details.
fn obvious_weakness(password: &str, context: &[&str]) -> Option<&'static str> {
    let lower = password.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 3 {
        return Some("It repeats the same few characters.");
    }
    let runs = chars
        .iter()
        .zip(chars.iter().skip(1))
        .filter(|(a, b)| (**b as i64 - **a as i64).abs() == 1)
        .count();
    if runs * 5 >= (chars.len() - 1) * 4 {
        return Some("It is a simple sequence.");
    }
    let letters: String = chars.iter().filter(|c| c.is_alphabetic()).collect();
    let only_common = letters.is_empty()
        || COMMON_WORDS
            .iter()
            .any(|w| !letters.replace(w, "").chars().any(char::is_alphabetic));
    if only_common {
        return Some("It is a common password with digits or symbols added.");
    }
    let personal = context.iter().any(|detail| {
        let detail = detail.to_lowercase();
        let part = detail.split('@').next().unwrap_or_default();
        part.chars().count() >= 3 && lower.contains(part) && part.chars().count() * 2 >= chars.len()
    });
    if personal {
        return Some("It is mostly your own email address or name.");
    }
    None
}

/// `next` if it is a path on this site, else `None`: protocol-relative
/// (`//host`), absolute URLs and backslash tricks are refused, so a link
/// cannot send someone elsewhere after signing in.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 512;
    ok.then_some(next)
}

/// What a query value (`?next=`) keeps as it is: RFC 3986's unreserved
/// characters and `/`, so a path stays readable.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a path for use as a query value (`?next=`).
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// The address of a form page, keeping a safe `next` along.
pub fn form_page(page: &str, next: Option<&str>) -> String {
    form_page_returning(page, next.and_then(safe_next))
}

/// The address of a form page that sends the browser on to `target`
/// afterwards. The server checked `target` against its return policy: it
/// may be a URL on another host the operator allowed.
pub fn form_page_returning(page: &str, target: Option<&str>) -> String {
    match target.filter(|t| !t.is_empty()) {
        Some(target) => format!("{page}?next={}", query_value(target)),
        None => page.to_owned(),
    }
}

#[cfg(feature = "ssr")]
mod strength {
    use super::ValidationError;

    /// zxcvbn score needed: 3 is "safely unguessable" (about 10^8 guesses).
    const MIN_SCORE: u8 = 3;

    pub fn check(password: &str, context: &[&str]) -> Result<(), ValidationError> {
        let estimate = zxcvbn::zxcvbn(password, context);
        if (estimate.score() as u8) >= MIN_SCORE {
            return Ok(());
        }
        let why = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "Add more unrelated words or characters.".to_owned());
        Err(ValidationError::PasswordTooGuessable(why))
    }
}

#[cfg(not(feature = "ssr"))]
mod strength {
    use super::ValidationError;

    /// The browser checks length only; the server has the final say.
    pub fn check(_password: &str, _context: &[&str]) -> Result<(), ValidationError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn every_spelling_of_an_address_is_one_canonical_form() {
        for (spelling, canonical) in [
            ("ＡＤＡ@ＥＸＡＭＰＬＥ.ＣＯＭ", "ada@example.com"),
            ("ada@bücher.de", "ada@xn--bcher-kva.de"),
            ("Ada@BÜCHER.de", "ada@xn--bcher-kva.de"),
            ("ada@xn--bcher-kva.de", "ada@xn--bcher-kva.de"),
            ("\u{2003}ada@example.com", "ada@example.com"),
        ] {
            assert_eq!(
                Email::parse(spelling).map(|e| e.as_str().to_owned()),
                Ok(canonical.to_owned()),
                "{spelling}"
            );
        }
        assert_eq!(
            Email::parse(&"ａ".repeat(10_000)),
            Err(ValidationError::EmailInvalid)
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "\"a\"@example.com",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(ValidationError::EmailInvalid),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(ValidationError::EmailInvalid));
    }

    #[test]
    fn password_length_counts_characters_after_nfkc() {
        assert_eq!(
            Password::parse_any("short"),
            Err(ValidationError::PasswordTooShort)
        );
        // Twelve characters, many bytes each.
        assert!(Password::parse_any("ééééééééééé🙂").is_ok());
        assert_eq!(
            Password::parse_any(&"x".repeat(129)),
            Err(ValidationError::PasswordTooLong)
        );
        assert_eq!(
            Password::parse_any(&"x".repeat(100_000)),
            Err(ValidationError::PasswordTooLong)
        );
        // Full-width letters normalise to ASCII.
        let wide = Password::parse_any("ｃｏｒｒｅｃｔ-horse-battery").unwrap();
        assert_eq!(wide.expose(), "correct-horse-battery");
    }

    #[test]
    fn password_debug_hides_the_password() {
        let p = Password::parse_any("a secret that is long").unwrap();
        assert!(!format!("{p:?}").contains("secret"));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn common_and_personal_passwords_are_refused() {
        assert!(matches!(
            Password::parse_new("password1234", &[]),
            Err(ValidationError::PasswordTooGuessable(_))
        ));
        assert!(matches!(
            Password::parse_new("adalovelace1", &["ada@example.com", "adalovelace"]),
            Err(ValidationError::PasswordTooGuessable(_))
        ));
        assert!(Password::parse_new("plinth-violet-forage-42", &[]).is_ok());
        // Not caught by the browser's cheap rules, only by zxcvbn.
        assert!(obvious_weakness("starwars1977", &[]).is_none());
        assert!(matches!(
            Password::parse_new("starwars1977", &[]),
            Err(ValidationError::PasswordTooGuessable(_))
        ));
    }

    #[test]
    fn obviously_guessable_passwords_are_refused_everywhere() {
        // These rules run in the browser too (no zxcvbn there).
        for weak in [
            "aaaaaaaaaaaa",
            "abababababab",
            "123456789012",
            "abcdefghijklm",
            "password1234",
            "Password!2024",
            "qwertyuiop12",
            "1234567890!!",
        ] {
            assert!(
                matches!(
                    Password::parse_new(weak, &[]),
                    Err(ValidationError::PasswordTooGuessable(_))
                ),
                "{weak}"
            );
        }
        assert!(matches!(
            Password::parse_new("ada.lovelace-1", &["ada.lovelace@example.com"]),
            Err(ValidationError::PasswordTooGuessable(_))
        ));
        assert!(obvious_weakness("plinth-violet-forage-42", &["ada@example.com", "Ada"]).is_none());
        assert!(obvious_weakness("correct horse battery staple", &[]).is_none());
    }

    #[test]
    fn form_pages_carry_next_percent_encoded() {
        assert_eq!(
            form_page("/login", Some("/account?tab=a b&x=é~_.-")),
            "/login?next=/account%3Ftab%3Da%20b%26x%3D%C3%A9~_.-"
        );
        assert_eq!(form_page("/login", Some("//evil.example")), "/login");
        assert_eq!(form_page("/signup", None), "/signup");
    }

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next("/account"), Some("/account"));
        assert_eq!(
            safe_next("/account?tab=security"),
            Some("/account?tab=security")
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "account",
            "",
            "/\u{0}x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
        assert!(DisplayName::parse(&"n".repeat(65)).is_err());
        let email = Email::parse("grace.hopper@example.com").unwrap();
        assert_eq!(DisplayName::from_email(&email).as_str(), "grace.hopper");
    }
}
