//! Times as the pages show them.

/// `2026-11-29T20:15:00Z` as `2026-11-29 20:15 UTC`.
pub fn readable_time(rfc3339: &str) -> String {
    match rfc3339.split_once('T') {
        Some((date, time)) => format!("{date} {} UTC", time.get(..5).unwrap_or(time)),
        None => rfc3339.to_owned(),
    }
}
