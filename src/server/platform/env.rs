//! Reading settings from the environment. Every layer reads its own
//! section through [`Env`]; a bad value names its variable.

use std::{fmt, ops::RangeInclusive, time::Duration};

use chrono::TimeDelta;

/// A configuration problem, naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

impl std::error::Error for ConfigError {}

pub fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

/// The environment, or a map standing in for it in tests. Empty values
/// count as unset.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    pub fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            other => Err(invalid(
                name,
                format!("expected true or false, got `{other}`"),
            )),
        }
    }

    /// A whole number within `range`.
    pub fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(
                name,
                format!(
                    "expected a whole number from {} to {}, got `{raw}`",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// A span of whole seconds within `range`, for times the server
    /// compares with stored timestamps.
    pub fn seconds(
        &self,
        name: &'static str,
        default: TimeDelta,
        range: RangeInclusive<u32>,
    ) -> Result<TimeDelta, ConfigError> {
        Ok(self
            .whole(name, range)?
            .map_or(default, |secs| TimeDelta::seconds(i64::from(secs))))
    }

    /// A span written with a unit, `90s`, `45m`, `72h` or `3d` (bare
    /// numbers are seconds), within `range` seconds.
    pub fn span(
        &self,
        name: &'static str,
        default: TimeDelta,
        range: RangeInclusive<u32>,
    ) -> Result<TimeDelta, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let value = raw.trim();
        let (digits, unit) = match value.char_indices().last() {
            Some((at, c)) if c.is_ascii_alphabetic() => value.split_at(at),
            _ => (value, "s"),
        };
        let per_unit: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 24 * 3600,
            _ => 0,
        };
        let seconds = digits
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit))
            .filter(|_| per_unit > 0)
            .and_then(|secs| u32::try_from(secs).ok())
            .filter(|secs| range.contains(secs));
        match seconds {
            Some(secs) => Ok(TimeDelta::seconds(i64::from(secs))),
            None => Err(invalid(
                name,
                format!(
                    "expected a span like `90s`, `45m`, `72h` or `3d`, from {} to {} seconds, \
                     got `{value}`",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// A timeout: a whole number of `unit`s within `range`.
    pub fn timeout(
        &self,
        name: &'static str,
        default: Duration,
        range: RangeInclusive<u32>,
        unit: Duration,
    ) -> Result<Duration, ConfigError> {
        Ok(self.whole(name, range)?.map_or(default, |n| unit * n))
    }

    /// A whole number within `range`, if set.
    fn whole(
        &self,
        name: &'static str,
        range: RangeInclusive<u32>,
    ) -> Result<Option<u32>, ConfigError> {
        if !self.is_set(name) {
            return Ok(None);
        }
        self.number(name, *range.start(), range).map(Some)
    }

    /// One of `choices`, by name.
    pub fn choice<T: Copy>(
        &self,
        name: &'static str,
        default: T,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        let value = value.trim();
        choices
            .iter()
            .find(|(label, _)| *label == value)
            .map(|(_, choice)| *choice)
            .ok_or_else(|| {
                let expected: Vec<String> = choices
                    .iter()
                    .map(|(label, _)| format!("`{label}`"))
                    .collect();
                invalid(
                    name,
                    format!("expected {}, got `{value}`", expected.join(" or ")),
                )
            })
    }

    /// Comma-separated values, blanks dropped; empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<T>(vars: &[(&str, &str)], read: impl FnOnce(&Env<'_>) -> T) -> T {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        read(&Env::new(&lookup))
    }

    #[test]
    fn blank_values_count_as_unset_and_take_the_default() {
        with(&[("N", "  ")], |env| {
            assert_eq!(env.number("N", 7_u32, 1..=10), Ok(7));
            assert_eq!(env.string("N", "x"), "x");
        });
    }

    #[test]
    fn out_of_range_and_garbage_name_the_variable() {
        with(&[("N", "0"), ("B", "maybe"), ("C", "xml")], |env| {
            assert_eq!(env.number("N", 7_u32, 1..=10).unwrap_err().variable, "N");
            assert_eq!(env.bool("B", true).unwrap_err().variable, "B");
            let err = env
                .choice("C", 1, &[("pretty", 1), ("json", 2)])
                .unwrap_err();
            assert_eq!(err.to_string(), "C: expected `pretty` or `json`, got `xml`");
        });
    }

    #[test]
    fn durations_come_out_in_their_unit() {
        with(&[("S", "90"), ("M", "250")], |env| {
            let one = TimeDelta::seconds(1);
            assert_eq!(env.seconds("S", one, 1..=100), Ok(TimeDelta::seconds(90)));
            assert_eq!(env.seconds("unset", one, 1..=100), Ok(one));
            assert_eq!(
                env.timeout("M", Duration::ZERO, 1..=1000, Duration::from_millis(1)),
                Ok(Duration::from_millis(250))
            );
        });
    }

    #[test]
    fn spans_take_a_unit_and_bare_numbers_are_seconds() {
        let vars = [
            ("S", "90"),
            ("M", "45m"),
            ("H", " 72h "),
            ("D", "3d"),
            ("X", "3w"),
            ("Y", "d"),
            ("Z", "-1s"),
            ("BIG", "400d"),
        ];
        with(&vars, |env| {
            let span = |name| env.span(name, TimeDelta::zero(), 1..=365 * 24 * 3600);
            assert_eq!(span("S"), Ok(TimeDelta::seconds(90)));
            assert_eq!(span("M"), Ok(TimeDelta::minutes(45)));
            assert_eq!(span("H"), Ok(TimeDelta::hours(72)));
            assert_eq!(span("D"), Ok(TimeDelta::days(3)));
            assert_eq!(span("unset"), Ok(TimeDelta::zero()));
            for bad in ["X", "Y", "Z", "BIG"] {
                assert_eq!(span(bad).unwrap_err().variable, bad);
            }
        });
    }

    #[test]
    fn lists_drop_blanks() {
        with(&[("L", " a, ,b ,")], |env| {
            assert_eq!(env.list("L"), ["a", "b"]);
            assert!(env.list("unset").is_empty());
        });
    }
}
