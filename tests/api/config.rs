//! The real binary refuses bad configuration with a message naming the variable.

use std::process::Command;

fn start_binary(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.env_clear();
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = command.output().expect("run the portcullis binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn binary_names_the_bad_variable_and_exits_2() {
    let (code, stderr) = start_binary(&[("PORTCULLIS_LISTEN_ADDR", "nowhere")]);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_LISTEN_ADDR"), "{stderr}");
}

#[test]
fn production_refuses_to_start_without_a_strong_secret() {
    let (code, stderr) = start_binary(&[
        ("PORTCULLIS_ENV", "production"),
        ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
        ("PORTCULLIS_JWT_SECRET", "too-short"),
    ]);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_JWT_SECRET"), "{stderr}");
    assert!(
        !stderr.contains("too-short"),
        "the secret itself is never echoed: {stderr}"
    );
}

#[test]
fn production_refuses_to_start_with_insecure_cookies() {
    let (code, stderr) = start_binary(&[
        ("PORTCULLIS_ENV", "production"),
        ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
        ("PORTCULLIS_JWT_SECRET", "kV3q9ZtX1mB7rP2wY8sL4nD6hF0gJ5cA"),
        ("PORTCULLIS_COOKIE_SECURE", "false"),
    ]);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_COOKIE_SECURE"), "{stderr}");
}

#[test]
fn a_log_filter_that_does_not_parse_is_refused_not_ignored() {
    let (code, stderr) = start_binary(&[
        ("PORTCULLIS_LISTEN_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("RUST_LOG", "info,sqlx=loud"),
    ]);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
}

#[test]
fn production_refuses_a_long_secret_that_is_not_random() {
    for secret in [
        "0123456789abcdef0123456789abcdef",
        "passwordpasswordpasswordpassword",
    ] {
        let (code, stderr) = start_binary(&[
            ("PORTCULLIS_ENV", "production"),
            ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
            ("PORTCULLIS_JWT_SECRET", secret),
        ]);

        assert_eq!(code, Some(2), "{secret}");
        assert!(stderr.contains("PORTCULLIS_JWT_SECRET"), "{stderr}");
        assert!(!stderr.contains(secret), "the secret is never echoed");
    }
}

/// Development's defaults (random keys, plain cookies) must not end up
/// serving other hosts by omission.
#[test]
fn listening_beyond_loopback_needs_an_explicit_environment() {
    let (code, stderr) = start_binary(&[
        ("PORTCULLIS_LISTEN_ADDR", "0.0.0.0:0"),
        ("DATABASE_URL", "sqlite::memory:"),
    ]);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTCULLIS_ENV"), "{stderr}");
    assert!(stderr.contains("0.0.0.0:0"), "{stderr}");
}
