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
    // Served while the slot is free.
    assert_eq!(app.get("/ready").await.status(), 200);
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
    assert_eq!(busy.headers()["x-content-type-options"], "nosniff");
    assert_eq!(busy.headers()["x-frame-options"], "DENY");
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
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("x-content-type-options: nosniff"),
        "{answer}"
    );
    assert!(lower.contains("referrer-policy: no-referrer"), "{answer}");
    assert_eq!(app.get("/ready").await.status(), 200);
}

/// Sends one request on a connection of its own and reads until the
/// server closes it: the whole answer, or nothing if it was turned away.
async fn one_shot(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

const HEALTH_AND_CLOSE: &[u8] =
    b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// Opens a connection that sends half a request line, once the server has
/// room for it: a connection turned away is closed at once, one taken in
/// waits for the rest of the request.
async fn trickler(address: &str) -> TcpStream {
    for _ in 0..100 {
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /health HTTP/1.1\r\nHost: local")
            .await
            .unwrap();
        let mut byte = [0u8; 1];
        let probe =
            tokio::time::timeout(std::time::Duration::from_millis(200), slow.read(&mut byte)).await;
        if probe.is_err() {
            return slow;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the server never took a connection in");
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
    // One connection at a time is served.
    let served = one_shot(&address, HEALTH_AND_CLOSE).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");

    // Half a request line, then silence, on the only connection.
    let mut slow = trickler(&address).await;

    // While it holds the only connection, a new one is closed unanswered.
    let refused = one_shot(&address, HEALTH_AND_CLOSE).await;
    assert_eq!(refused, "", "a connection over the cap was answered");

    // The trickler is cut off at the header deadline (1 s; without one it
    // would hang here until the guard below fails the test), unanswered.
    let mut rest = Vec::new();
    let cut_off = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(cut_off.is_ok(), "the slow connection was never closed");
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "",
        "hyper closes it unanswered"
    );

    // Its slot is free again (released just after the socket closes).
    let mut served = String::new();
    for _ in 0..40 {
        served = one_shot(&address, HEALTH_AND_CLOSE).await;
        if !served.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        served.starts_with("HTTP/1.1 200"),
        "a new connection is served once the slot is free: {served}"
    );
}

/// A client that connects and says nothing is closed at the header
/// deadline too (the HTTP/1-or-2 detection has no timer of its own).
#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_deadline() {
    let app = spawn_app_with(Backend::Sqlite, &[("PORTCULLIS_HEADER_TIMEOUT_SECS", "1")]).await;
    let mut silent = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        silent.read_to_end(&mut rest),
    )
    .await;

    assert!(closed.is_ok(), "a silent connection was kept open");
    assert!(rest.is_empty());

    // Half an HTTP/2 preface, then silence: held by the detection of the
    // protocol, not by hyper's header timer, yet closed at the deadline
    // (the idle timeout, two minutes by default, would be too late here).
    let mut partial = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    partial.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        partial.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "a half-sent HTTP/2 preface was kept open");
}

/// One host cannot take every connection: past its own cap its new
/// connections are closed, while another host still gets in.
#[tokio::test]
async fn one_address_cannot_fill_the_connection_cap() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "2"),
            ("PORTCULLIS_HEADER_TIMEOUT_SECS", "30"),
        ],
    )
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let _first = trickler(&address).await;
    let _second = trickler(&address).await;

    let refused = one_shot(&address, HEALTH_AND_CLOSE).await;
    assert_eq!(
        refused, "",
        "a third connection from one address was answered"
    );

    // 127.0.0.2 is another host on the loopback network.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(address.parse().unwrap()).await.unwrap();
    other.write_all(HEALTH_AND_CLOSE).await.unwrap();
    let mut answer = Vec::new();
    other.read_to_end(&mut answer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "another host was refused"
    );
}

/// An HTTP/2 connection with no request in flight is closed after the idle
/// timeout, with a GOAWAY, instead of holding a slot forever.
#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    const PING: u8 = 0x6;
    const GOAWAY: u8 = 0x7;
    const ACK: u8 = 0x1;
    let app = spawn_app_with(Backend::Sqlite, &[("PORTCULLIS_IDLE_TIMEOUT_SECS", "1")]).await;
    let mut h2 = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    // The client preface and an empty SETTINGS frame: HTTP/2 without TLS.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();

    // Read frames until the server closes, answering its pings as any
    // client would (a graceful close waits for one).
    let mut types = Vec::new();
    let read_all = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let read = h2.read(&mut chunk).await.unwrap_or(0);
            if read == 0 {
                return;
            }
            buffer.extend_from_slice(&chunk[..read]);
            while buffer.len() >= 9 {
                let length = usize::from(buffer[0]) << 16
                    | usize::from(buffer[1]) << 8
                    | usize::from(buffer[2]);
                if buffer.len() < 9 + length {
                    break;
                }
                let (kind, flags) = (buffer[3], buffer[4]);
                if kind == PING && flags & ACK == 0 {
                    let mut pong = vec![0, 0, 8, PING, ACK, 0, 0, 0, 0];
                    pong.extend_from_slice(&buffer[9..17]);
                    h2.write_all(&pong).await.unwrap();
                }
                types.push(kind);
                buffer.drain(..9 + length);
            }
        }
    };
    let closed = tokio::time::timeout(std::time::Duration::from_secs(20), read_all).await;

    assert!(closed.is_ok(), "an idle HTTP/2 connection was kept open");
    assert!(types.contains(&GOAWAY), "frames: {types:?}");
}
