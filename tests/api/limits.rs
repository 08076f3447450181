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
