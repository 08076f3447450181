//! `portcullis check-login`: the uptime check. Signs a dedicated probe
//! account in, reads `/api/auth/me`, refreshes and signs out, timing each
//! step, as a client keeping its own tokens would. Any failure is an exit
//! status other than 0. Tokens and the password are never printed.

use std::time::{Duration, Instant};

use reqwest::{header::AUTHORIZATION, Client, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

pub const USAGE: &str =
    "check-login --url URL --email EMAIL --password-file FILE [--timeout-secs N]";

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub url: String,
    pub email: String,
    pub password_file: String,
    pub timeout: Duration,
}

impl Probe {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let (mut url, mut email, mut password_file) = (None, None, None);
        let mut timeout = Duration::from_secs(10);
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("`{flag}` needs a value"))?
                .clone();
            match flag.as_str() {
                "--url" => url = Some(value.trim_end_matches('/').to_owned()),
                "--email" => email = Some(value),
                "--password-file" => password_file = Some(value),
                "--timeout-secs" => {
                    let secs: u64 = value
                        .parse()
                        .ok()
                        .filter(|s| (1..=300).contains(s))
                        .ok_or("`--timeout-secs` takes 1 to 300")?;
                    timeout = Duration::from_secs(secs);
                }
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        let url = url.ok_or("`--url` is required")?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("`--url` must be an http:// or https:// URL".to_owned());
        }
        Ok(Self {
            url,
            email: email.ok_or("`--email` is required")?,
            password_file: password_file.ok_or("`--password-file` is required")?,
            timeout,
        })
    }
}

#[derive(Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: String,
}

/// `/api/auth/me`'s body, as far as the probe reads it.
#[derive(Deserialize)]
struct Me {
    user: MeUser,
}

#[derive(Deserialize)]
struct MeUser {
    email: String,
}

/// One step's failure, for the report.
struct Failed(String);

/// Runs the probe, printing a line per step; `Err` names the step that
/// failed (after a best-effort sign-out).
pub async fn run(probe: &Probe) -> Result<(), String> {
    let password = std::fs::read_to_string(&probe.password_file)
        .map_err(|e| format!("cannot read the password file: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    let client = Client::builder()
        .timeout(probe.timeout)
        .user_agent("portcullis-check-login")
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let started = Instant::now();
    let tokens = step("sign-in", async {
        let response = client
            .post(format!("{}/api/auth/login", probe.url))
            .json(&json!({ "email": probe.email, "password": password, "transport": "bearer" }))
            .send()
            .await;
        read::<Tokens>(expect(response, StatusCode::OK)?).await
    })
    .await?;
    let checked = step("me", async {
        let response = client
            .get(format!("{}/api/auth/me", probe.url))
            .header(AUTHORIZATION, format!("Bearer {}", tokens.access_token))
            .send()
            .await;
        let me = read::<Me>(expect(response, StatusCode::OK)?).await?;
        if me.user.email.eq_ignore_ascii_case(&probe.email) {
            Ok(())
        } else {
            Err(Failed("answered for another account".to_owned()))
        }
    })
    .await;
    let refreshed = match checked {
        Ok(()) => {
            step("refresh", async {
                let response = client
                    .post(format!("{}/api/auth/refresh", probe.url))
                    .json(&json!({ "refresh_token": tokens.refresh_token, "transport": "bearer" }))
                    .send()
                    .await;
                read::<Tokens>(expect(response, StatusCode::OK)?).await
            })
            .await
        }
        Err(failed) => Err(failed),
    };
    // Sign out whatever happened, so a failing probe leaves no sessions.
    let current = refreshed.as_ref().unwrap_or(&tokens);
    let signed_out = step("sign-out", async {
        let response = client
            .post(format!("{}/api/auth/logout", probe.url))
            .header(AUTHORIZATION, format!("Bearer {}", current.access_token))
            .json(&json!({ "refresh_token": current.refresh_token }))
            .send()
            .await;
        expect(response, StatusCode::NO_CONTENT).map(drop)
    })
    .await;
    refreshed?;
    signed_out?;
    println!("{:<9}{:>8.1} ms ok", "all", millis(started.elapsed()));
    Ok(())
}

async fn step<T>(
    name: &str,
    work: impl std::future::Future<Output = Result<T, Failed>>,
) -> Result<T, String> {
    let started = Instant::now();
    let result = work.await;
    let took = millis(started.elapsed());
    match result {
        Ok(value) => {
            println!("{name:<9}{took:>8.1} ms ok");
            Ok(value)
        }
        Err(Failed(why)) => {
            println!("{name:<9}{took:>8.1} ms FAILED: {why}");
            Err(format!("{name} failed: {why}"))
        }
    }
}

fn expect(response: reqwest::Result<Response>, wanted: StatusCode) -> Result<Response, Failed> {
    let response = response.map_err(|e| Failed(format!("no answer: {e}")))?;
    if response.status() == wanted {
        return Ok(response);
    }
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    Err(Failed(format!(
        "answered {} (request id {request_id})",
        response.status()
    )))
}

async fn read<T: for<'de> Deserialize<'de>>(response: Response) -> Result<T, Failed> {
    response
        .json::<T>()
        .await
        .map_err(|e| Failed(format!("unexpected body: {e}")))
}

fn millis(took: Duration) -> f64 {
    took.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_flag_is_read_and_the_required_ones_are_required() {
        let probe = Probe::parse(&args(&[
            "--url",
            "https://auth.example.com/",
            "--email",
            "probe@example.com",
            "--password-file",
            "/run/secrets/probe",
            "--timeout-secs",
            "5",
        ]))
        .unwrap();
        assert_eq!(probe.url, "https://auth.example.com");
        assert_eq!(probe.timeout, Duration::from_secs(5));
        assert!(Probe::parse(&args(&["--url", "https://a.example"])).is_err());
        assert!(Probe::parse(&args(&["--url"])).is_err());
        assert!(Probe::parse(&args(&[
            "--url",
            "ftp://a",
            "--email",
            "e",
            "--password-file",
            "f"
        ]))
        .is_err());
        assert!(Probe::parse(&args(&["--bogus", "1"])).is_err());
    }
}
