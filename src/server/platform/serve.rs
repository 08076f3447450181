//! The accept loop. `axum::serve` sets no deadline for reading request
//! headers and accepts connections without bound, so a client trickling
//! headers, or saying nothing at all, could hold sockets forever. This loop
//! caps connections, overall and per client address, gives a connection's
//! first byte and each request's headers a deadline, closes HTTP/2
//! connections left idle, and still shuts down gracefully.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    Router,
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use ipnet::IpNet;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{watch, Notify, Semaphore},
    time::Instant,
};
use tower::ServiceExt;

use super::env::{ConfigError, Env};

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_FOR: Duration = Duration::from_secs(30);
/// HTTP/2 pings: how often, and how long an unanswered one is waited for.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at once; more are closed on arrival.
    pub max_connections: usize,
    /// Open connections from one client address (an IPv6 /64) at once,
    /// so one host cannot fill `max_connections`. Trusted proxies, which
    /// carry everyone's connections, are exempt.
    pub max_connections_per_address: usize,
    /// The longest a client may take to send a connection's first byte,
    /// and each request's headers.
    pub header_timeout: Duration,
    /// An HTTP/2 connection with no request for this long is closed.
    pub idle_timeout: Duration,
}

impl ConnectionLimits {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            max_connections: env.number("PORTCULLIS_MAX_CONNECTIONS", 10_000, 1..=1_000_000)?,
            max_connections_per_address: env.number(
                "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS",
                256,
                1..=1_000_000,
            )?,
            header_timeout: env.timeout(
                "PORTCULLIS_HEADER_TIMEOUT_SECS",
                Duration::from_secs(10),
                1..=600,
                Duration::from_secs(1),
            )?,
            idle_timeout: env.timeout(
                "PORTCULLIS_IDLE_TIMEOUT_SECS",
                Duration::from_secs(120),
                1..=3600,
                Duration::from_secs(1),
            )?,
        })
    }
}

pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    trusted_proxies: Arc<[IpNet]>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::new(limits.max_connections_per_address));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);

    let admit = |stream: TcpStream, peer: SocketAddr| {
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection cap reached; closing a new connection");
            return;
        };
        let trusted = trusted_proxies
            .iter()
            .any(|net| net.contains(&peer.ip().to_canonical()));
        let address_slot = if trusted {
            None
        } else {
            match per_address.admit(peer.ip()) {
                Some(address_slot) => Some(address_slot),
                None => {
                    tracing::warn!(%peer, "connection cap of this address reached; closing a new connection");
                    return;
                }
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let connection = Connection {
            builder: builder.clone(),
            router: router.clone(),
            limits,
            stopping: stopping.clone(),
        };
        tokio::spawn(async move {
            connection.run(stream, peer).await;
            drop(address_slot);
            drop(slot);
        });
    };

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        admit(stream, peer);
    }

    // The kernel completes connections by itself: those still queued when
    // the listener closes would be reset, requests and all, and a proxy
    // cannot tell whether a POST it had sent ran. Take them first (they
    // are served like the rest); once the listener is closed, connecting
    // is refused, which a proxy safely retries on another replica.
    match listener.into_std() {
        Ok(listener) => {
            while let Ok((stream, peer)) = listener.accept() {
                match stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream))
                {
                    Ok(stream) => admit(stream, peer),
                    Err(error) => tracing::debug!(%error, "could not take a queued connection"),
                }
            }
        }
        Err(error) => tracing::warn!(%error, "could not take the queued connections"),
    }
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means
    // all connections are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_FOR, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN_FOR:?}; stopping anyway");
    }
    Ok(())
}

/// One accepted connection and what it needs to be served.
struct Connection {
    builder: Arc<Builder<TokioExecutor>>,
    router: Router,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr) {
        // The HTTP/1-or-2 detection waits for bytes with no timer of its
        // own: a client that sends nothing is dropped here.
        let mut first = [0u8; 1];
        match tokio::time::timeout(self.limits.header_timeout, stream.peek(&mut first)).await {
            Ok(Ok(read)) if read > 0 => {}
            _ => return,
        }
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            let router = self.router.clone();
            tower::service_fn(move |mut request: Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                let busy = activity.begin();
                let response = router.clone().oneshot(request.map(Body::new));
                async move {
                    let response = response.await;
                    drop(busy);
                    response
                }
            })
        };
        let connection = self.builder.serve_connection_with_upgrades(
            TokioIo::new(stream),
            TowerToHyperService::new(service),
        );
        let mut connection = std::pin::pin!(connection);
        let mut closing = false;
        // Asked to stop before its first request began, a connection still
        // serves that request, then closes: the request may be in the
        // socket already, and closing would reset it. (One that sends
        // nothing is closed by the header deadline below.)
        let mut stop_asked = false;
        // Until its first request, a connection gets the header deadline
        // (a partial HTTP/2 preface would otherwise wait with no timer).
        let limits = self.limits;
        let allowance = move |activity: &Activity| {
            if activity.has_served() {
                limits.idle_timeout
            } else {
                limits.header_timeout
            }
        };
        loop {
            let idle_check = tokio::time::sleep_until(activity.idle_deadline(allowance(&activity)));
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::trace!(%error, "connection ended with an error");
                    }
                    return;
                }
                changed = self.stopping.changed(), if !stop_asked => {
                    if changed.is_err() || *self.stopping.borrow() {
                        stop_asked = true;
                    }
                }
                () = activity.began.notified(), if stop_asked && !closing => {}
                () = idle_check, if !closing => {
                    if activity.is_idle(allowance(&activity)) {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
            if stop_asked && !closing && activity.has_served() {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Requests in flight on a connection, how many it has served, and when
/// the last one began or ended.
struct Activity {
    in_flight: AtomicUsize,
    served: AtomicUsize,
    last: Mutex<Instant>,
    /// Told when a request begins.
    began: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
            began: Notify::new(),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.fetch_add(1, Ordering::AcqRel);
        self.touch();
        self.began.notify_one();
        Busy(self.clone())
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    fn has_served(&self) -> bool {
        self.served.load(Ordering::Acquire) > 0
    }

    fn last(&self) -> Instant {
        self.last
            .lock()
            .map(|last| *last)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }

    /// When to look again: `allowed` after the last activity or, with a
    /// request in flight (never idle), `allowed` from now.
    fn idle_deadline(&self, allowed: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + allowed
        } else {
            self.last() + allowed
        }
    }

    fn is_idle(&self, allowed: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.last().elapsed() >= allowed
    }
}

/// A request in flight; when it ends, the connection's idle time starts.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Open connections per client address (IPv6 per /64).
struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = host_key(ip);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: self.clone(),
            key,
        })
    }
}

/// One connection's place in its address's count.
struct AddressSlot {
    owner: Arc<PerAddress>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.owner.open.lock() {
            if let Some(count) = open.get_mut(&self.key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

/// An address as one host: IPv6 hosts usually hold a whole /64.
fn host_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections the kernel completed before the server took them, each
    /// with a request sent, are answered although shutdown has begun: not
    /// reset with the listener, nor closed before their request is read.
    #[tokio::test]
    async fn requests_queued_when_shutdown_begins_are_answered() {
        use std::io::{Read, Write};

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<std::net::TcpStream> = (0..8)
            .map(|_| {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream
                    .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
                stream
            })
            .collect();
        let router = Router::new().route("/", axum::routing::post(|| async { "done" }));
        let limits = ConnectionLimits {
            max_connections: 100,
            max_connections_per_address: 100,
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
        };
        // Shutdown has begun before the first accept.
        serve(
            listener,
            router,
            limits,
            Arc::from([]),
            std::future::ready(()),
        )
        .await
        .unwrap();
        for mut stream in clients {
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
            assert!(answer.ends_with("done"), "{answer:?}");
        }
    }

    #[test]
    fn an_address_gets_its_share_and_back_when_done() {
        let per_address = Arc::new(PerAddress::new(2));
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let first = per_address.admit(ip).unwrap();
        let _second = per_address.admit(ip).unwrap();
        assert!(per_address.admit(ip).is_none());
        assert!(per_address.admit("203.0.113.6".parse().unwrap()).is_some());
        drop(first);
        assert!(per_address.admit(ip).is_some());
    }

    #[test]
    fn ipv6_hosts_are_counted_per_slash_64() {
        let per_address = Arc::new(PerAddress::new(1));
        let _one = per_address
            .admit("2001:db8:1:2::1".parse().unwrap())
            .unwrap();
        assert!(per_address
            .admit("2001:db8:1:2::ffff".parse().unwrap())
            .is_none());
        assert!(per_address
            .admit("2001:db8:1:3::1".parse().unwrap())
            .is_some());
    }
}
