//! Request deadlines and the cap on requests in flight. Neither involves
//! the database, so these run on SQLite only.

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{spawn_app_with, Backend};

#[tokio::test]
async fn a_stalled_upload_times_out_and_requests_over_the_cap_get_503() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("PORTCULLIS_MAX_CONCURRENT_REQUESTS", "1"),
            ("PORTCULLIS_REQUEST_TIMEOUT_SECS", "4"),
        ],
    )
    .await;
    // Headers and half a body, then nothing: a slow client.
    let mut slow = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    slow.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();

    // While it holds the only slot, other requests are turned away at once.
    let mut busy = None;
    for _ in 0..60 {
        let response = app.get("/ready").await;
        if response.status() == 503 {
            busy = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let busy = busy.expect("a request over the cap gets 503");
    assert_eq!(busy.headers()["retry-after"], "1");
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    // Liveness still answers: a busy replica is not a dead one.
    assert_eq!(app.get("/health").await.status(), 200);

    // The stalled request ends with 408 at its deadline, freeing the slot.
    let mut answer = Vec::new();
    slow.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(app.get("/ready").await.status(), 200);
}

#[tokio::test]
async fn trickled_headers_are_cut_off_and_connections_are_capped() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("PORTCULLIS_HEADER_TIMEOUT_SECS", "1"),
            ("PORTCULLIS_MAX_CONNECTIONS", "1"),
        ],
    )
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // Half a request line, then silence.
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: local")
        .await
        .unwrap();

    // While it holds the only connection, a new one is closed unanswered.
    let mut second = TcpStream::connect(&address).await.unwrap();
    let _ = second
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = second.read_to_end(&mut answer).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // The trickler is cut off at the header deadline (1 s; without one it
    // would hang here until the guard below fails the test).
    let mut rest = Vec::new();
    let cut_off = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(cut_off.is_ok(), "the slow connection was never closed");
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );

    // Its slot is free again (released just after the socket closes).
    let mut served = false;
    for _ in 0..40 {
        if let Ok(response) = reqwest::get(app.url("/health")).await {
            served = response.status() == 200;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(served, "a new connection is served once the slot is free");
}
