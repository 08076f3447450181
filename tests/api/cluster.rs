//! Several replicas, for real: three `portcullis` processes on one
//! PostgreSQL database behind Debian's nginx (round-robin; a request that
//! fails to connect, or an idempotent one that fails after it was sent, is
//! passed to the next replica), driven through nginx by several clients at
//! once, each signing in, checking its session, refreshing, passing the
//! forward-auth gate and signing out, in a loop.
//!
//! Mid-run one replica is killed with SIGKILL and restarted on its port;
//! later every replica in turn is stopped with SIGTERM and restarted. The
//! test asserts, and prints with `--nocapture`:
//! - no request failed except non-idempotent ones in flight on the killed
//!   process (nginx's access log names each request's replica), and none at
//!   all during the rolling restart;
//! - the database holds exactly the sessions the clients believe they
//!   hold, each with the one current refresh token the client has (none
//!   lost, none forked), and every session signed out is revoked;
//! - sign-in failures on one account, spread over the three replicas,
//!   block it after exactly the configured budget, one after another and
//!   all at once;
//! - `/ready` of the killed replica is unreachable while it is down and 200
//!   once restarted, the others' stay 200.
//!
//! PostgreSQL only. `PORTCULLIS_CLUSTER_SECONDS` (default 10) is how long
//! the load runs around the kills (one, or one per 20 s, each of the next
//! replica), and one round of rolling restarts follows per 20 s (at least
//! one); `PORTCULLIS_CLUSTER_CLIENTS` (default 6) is how many clients drive
//! it. `make bench` runs a longer variant. nginx is `PORTCULLIS_NGINX`,
//! else /usr/sbin/nginx, else `nginx` on PATH.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use portcullis::server::credentials::tokens::hash_refresh_token;
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

use crate::helpers::{
    cookie_value, jwt_claims, Backend, ServerProcess, TestDatabase, ACCESS, GOOD_PASSWORD, REFRESH,
};

const REPLICAS: usize = 3;
/// PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT: not the default (5), and not a
/// multiple of the replicas, so no replica could count it alone.
const BUDGET: usize = 7;
const AUTH_HOST: &str = "auth.example.com";
const APP_HOST: &str = "app.example.com";
/// Sessions each client keeps open between iterations.
const KEEP: usize = 2;
/// nginx's `fail_timeout`: how long a replica that failed is left alone.
const FAIL_TIMEOUT: Duration = Duration::from_secs(1);
/// The first replica killed with SIGKILL (then the next, and so on).
const VICTIM: usize = 1;
const WRONG: &str = "not-the-password-at-all";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is no number"))
        })
        .unwrap_or(default)
}

/// A port nobody listens on now, for a process to bind later (again and
/// again: a replica restarts on its own port).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- nginx --

/// Debian's nginx, as a child process with its own prefix directory
/// (configuration, pid, logs, temporary files); no root needed for high
/// ports.
struct Nginx {
    child: Child,
    dir: TempDir,
    port: u16,
}

/// One line of the access log: one client request, after any retries.
#[derive(Debug, Clone)]
struct LogLine {
    status: u16,
    method: String,
    /// The replicas tried, in order (`$upstream_addr`).
    upstreams: Vec<String>,
    /// For a forward-auth request, the replicas its auth subrequest tried.
    auth_upstreams: Vec<String>,
}

impl LogLine {
    /// The replicas that answered or failed this request, the gate's
    /// subrequest included.
    fn replicas(&self) -> Vec<String> {
        let mut all = self.upstreams.clone();
        all.extend(self.auth_upstreams.iter().cloned());
        all
    }
}

fn nginx_binary() -> String {
    if let Ok(path) = std::env::var("PORTCULLIS_NGINX") {
        return path;
    }
    if std::path::Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx".into()
    } else {
        "nginx".into()
    }
}

impl Nginx {
    /// nginx on a port of its own in front of `replicas` (round-robin),
    /// serving Portcullis at `auth.example.com` and, at `app.example.com`,
    /// a service protected by forward-auth through the documented includes
    /// (docs/gateway/*.conf, as users include them) that answers with the
    /// email the gate passed on.
    async fn start(replicas: &[u16]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let app_port = free_port();
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/gateway");
        let d = dir.path().display();
        let docs = docs.display();
        let servers: String = replicas
            .iter()
            .map(|p| {
                format!(
                    "    server 127.0.0.1:{p} max_fails=1 fail_timeout={}s;\n",
                    FAIL_TIMEOUT.as_secs()
                )
            })
            .collect();
        let conf = format!(
            r#"
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format cluster '$status|$request_method|$http_x_cluster_tag|$upstream_addr|$auth_upstream';
  access_log {d}/access.log cluster;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  proxy_max_temp_file_size 0;
  # The next replica gets a request that could not be sent, and an
  # idempotent one that failed after it was (nginx never passes on a POST
  # it has sent, whatever this says).
  proxy_next_upstream error timeout http_502 http_503 http_504;
  proxy_next_upstream_tries {REPLICAS};
  proxy_connect_timeout 2s;
  # A stopping replica may take its time to finish what it serves.
  proxy_read_timeout 35s;
  upstream portcullis {{
{servers}  }}
  server {{
    listen 127.0.0.1:{port} default_server;
    server_name {AUTH_HOST};
    location = /nginx-health {{ return 200 "ok"; }}
    # Forward-auth is for nginx itself, through the upstream, never for
    # the public.
    location /api/authz/ {{ return 404; }}
    location / {{
      proxy_pass http://portcullis;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
  server {{
    listen 127.0.0.1:{port};
    server_name {APP_HOST};
    include {docs}/portcullis-auth.conf;
    location / {{
      include {docs}/protect.conf;
      auth_request_set $auth_upstream $upstream_addr;
      proxy_pass http://127.0.0.1:{app_port};
    }}
  }}
  # The protected service: says who the gate let through.
  server {{
    listen 127.0.0.1:{app_port};
    location / {{ return 200 "$http_x_auth_request_email"; }}
  }}
}}
"#
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start nginx ({}): {e}; install Debian's nginx (make setup)",
                    nginx_binary()
                )
            });
        let mut nginx = Self { child, dir, port };
        let health = format!("http://127.0.0.1:{port}/nginx-health");
        let started = Instant::now();
        loop {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited ({status}): {}", nginx.error_log());
            }
            if let Ok(answer) = reqwest::get(&health).await {
                if answer.status() == 200 {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                nginx.error_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// nginx's complaints about replicas so far, counted by what happened
    /// ("connect() failed (111: Connection refused) while connecting to
    /// upstream": nothing was sent, the next replica got the request).
    fn upstream_errors(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for line in self.error_log().lines() {
            if !line.contains("upstream") {
                continue;
            }
            // "... <pid>#<tid>: *<connection> <what>, client: ..."
            let what = line
                .split_once(": *")
                .and_then(|(_, rest)| rest.split_once(' '))
                .map_or(line, |(_, rest)| rest);
            let what = what.split(", client:").next().unwrap_or(what);
            *counts.entry(what.to_owned()).or_default() += 1;
        }
        counts
    }

    /// The access log by request tag, once it has a line for each of
    /// `tags` (nginx writes the line after the answer has gone out) or 5 s
    /// have passed.
    async fn access_log_for<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a str> + Clone,
    ) -> HashMap<String, LogLine> {
        let started = Instant::now();
        loop {
            let log = self.access_log();
            if tags.clone().into_iter().all(|t| log.contains_key(t))
                || started.elapsed() > Duration::from_secs(5)
            {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The access log so far, by request tag.
    fn access_log(&self) -> HashMap<String, LogLine> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap();
        let list = |field: &str| -> Vec<String> {
            field
                .split([',', ' '])
                .filter(|a| !a.is_empty() && *a != ":" && *a != "-")
                .map(str::to_owned)
                .collect()
        };
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split('|').collect();
                let [status, method, tag, upstreams, auth] = fields[..] else {
                    panic!("unexpected access log line {line}");
                };
                (tag != "-").then(|| {
                    (
                        tag.to_owned(),
                        LogLine {
                            status: status.parse().unwrap(),
                            method: method.to_owned(),
                            upstreams: list(upstreams),
                            auth_upstreams: list(auth),
                        },
                    )
                })
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master takes its worker with it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------- replicas --

/// What `/ready` answered a prober.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    Ready,
    /// Answered, not 200 (503 while stopping).
    NotReady(u16),
    /// No answer: nothing listens, or the connection broke.
    Unreachable,
}

#[derive(Debug, Clone, Copy)]
struct Transition {
    at: Duration,
    replica: usize,
    state: Readiness,
}

struct Cluster {
    database: TestDatabase,
    ports: Vec<u16>,
    replicas: Vec<Option<ServerProcess>>,
    settings: Vec<(String, String)>,
    nginx: Nginx,
    t0: Instant,
    transitions: Arc<Mutex<Vec<Transition>>>,
    probing: Arc<AtomicBool>,
}

impl Cluster {
    async fn start(t0: Instant) -> Self {
        let database = TestDatabase::create(Backend::Postgres).await;
        let ports: Vec<u16> = (0..REPLICAS).map(|_| free_port()).collect();
        let nginx = Nginx::start(&ports).await;
        let public = format!("http://{AUTH_HOST}:{}", nginx.port);
        let settings: Vec<(String, String)> = [
            // One public URL and one key: a token from any replica is every
            // replica's.
            ("PORTCULLIS_PUBLIC_URL", public.as_str()),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("PORTCULLIS_ALLOWED_RETURN_HOSTS", APP_HOST),
            ("PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT", &BUDGET.to_string()),
            // Cheap hashes: this is about replicas, not about hashing.
            ("PORTCULLIS_ARGON2_MEMORY_KIB", "1024"),
            ("PORTCULLIS_ARGON2_ITERATIONS", "1"),
            ("PORTCULLIS_HASH_QUEUE_TIMEOUT_MS", "20000"),
            // Each client is one address; its loop refreshes far more often
            // than a person's browser would.
            ("PORTCULLIS_REFRESH_LIMIT_PER_MINUTE", "100000"),
            ("PORTCULLIS_DB_MAX_CONNECTIONS", "10"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut cluster = Self {
            database,
            ports,
            replicas: (0..REPLICAS).map(|_| None).collect(),
            settings,
            nginx,
            t0,
            transitions: Arc::default(),
            probing: Arc::new(AtomicBool::new(true)),
        };
        // All three at once, as an orchestrator starts them: they migrate
        // one empty database together.
        let starting: Vec<_> = (0..REPLICAS).map(|i| cluster.spawn_replica(i)).collect();
        for (i, started) in starting.into_iter().enumerate() {
            cluster.replicas[i] = Some(started.await.unwrap());
        }
        for i in 0..REPLICAS {
            cluster.until_ready(i).await;
        }
        cluster.probe_readiness();
        cluster
    }

    fn address(&self, replica: usize) -> String {
        format!("127.0.0.1:{}", self.ports[replica])
    }

    fn replica_of(&self, address: &str) -> Option<usize> {
        (0..REPLICAS).find(|&i| self.address(i) == address)
    }

    fn at(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Starts replica `i` on its own port (the first time, or again).
    fn spawn_replica(&self, i: usize) -> tokio::task::JoinHandle<ServerProcess> {
        let url = self.database.url.clone();
        let mut settings = self.settings.clone();
        settings.push(("PORTCULLIS_LISTEN_ADDR".into(), self.address(i)));
        tokio::task::spawn_blocking(move || {
            let settings: Vec<(&str, &str)> = settings
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            ServerProcess::start(&url, &settings)
        })
    }

    /// Waits for `/ready` of replica `i` to answer 200.
    async fn until_ready(&self, i: usize) {
        let url = format!("http://{}/ready", self.address(i));
        let started = Instant::now();
        loop {
            if let Ok(answer) = reqwest::get(&url).await {
                if answer.status() == 200 {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "replica {i} never ready"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Asks every replica's `/ready` directly every 20 ms, on a new
    /// connection each time (as a kubelet does), and keeps each change.
    fn probe_readiness(&self) {
        for replica in 0..REPLICAS {
            let url = format!("http://{}/ready", self.address(replica));
            let (transitions, probing, t0) =
                (self.transitions.clone(), self.probing.clone(), self.t0);
            tokio::spawn(async move {
                let http = Client::builder()
                    .pool_max_idle_per_host(0)
                    .timeout(Duration::from_millis(500))
                    .build()
                    .unwrap();
                let mut last = None;
                while probing.load(Ordering::Relaxed) {
                    let state = match http.get(&url).send().await {
                        Ok(answer) if answer.status() == 200 => Readiness::Ready,
                        Ok(answer) => Readiness::NotReady(answer.status().as_u16()),
                        Err(_) => Readiness::Unreachable,
                    };
                    if last != Some(state) {
                        last = Some(state);
                        transitions.lock().unwrap().push(Transition {
                            at: t0.elapsed(),
                            replica,
                            state,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
    }

    /// The readiness changes of `replica` between `from` and `to`.
    fn transitions(&self, replica: usize, from: Duration, to: Duration) -> Vec<Transition> {
        self.transitions
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.replica == replica && t.at >= from && t.at <= to)
            .copied()
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.probing.store(false, Ordering::Relaxed);
    }
}

// -------------------------------------------------------------- clients --

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    SignUp,
    SignIn,
    SessionCheck,
    Refresh,
    ForwardAuth,
    SignOut,
}

impl Kind {
    fn idempotent(self) -> bool {
        matches!(self, Self::SessionCheck | Self::ForwardAuth)
    }
}

/// One request a client made, as it saw it.
#[derive(Debug, Clone)]
struct Record {
    kind: Kind,
    tag: String,
    started: Instant,
    ended: Instant,
    /// The status, or why there was none.
    answer: Result<u16, String>,
    /// Whether the answer was the one the client needed.
    ok: bool,
}

/// A session a client holds.
#[derive(Debug, Clone)]
struct Held {
    sid: String,
    access: String,
    refresh: String,
}

impl Held {
    fn new(access: String, refresh: String) -> Self {
        let sid = jwt_claims(&access)["sid"].as_str().unwrap().to_owned();
        Self {
            sid,
            access,
            refresh,
        }
    }
}

/// What an answer was.
struct Answer {
    status: Option<u16>,
    body: String,
    set_cookies: Vec<String>,
}

impl Answer {
    /// No answer at all, or nginx's own (the replica failed): the request
    /// may or may not have taken effect.
    fn unsure(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct Driver {
    n: usize,
    http: Client,
    auth: String,
    app: String,
    /// The client's address, in X-Forwarded-For: each client is a host of
    /// its own to the throttle.
    address: String,
    email: String,
    held: Vec<Held>,
    /// Sessions it signed out.
    ended: Vec<String>,
    /// Sessions refused although held: lost.
    lost: Vec<String>,
    /// Sign-ins that failed after they may have reached a replica: each
    /// may have left a session nobody holds.
    unsure_sign_ins: usize,
    records: Vec<Record>,
    seq: usize,
    iterations: usize,
}

fn http_client() -> Client {
    // Both names lead to nginx; the URL carries its port.
    let nginx: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(AUTH_HOST, nginx)
        .resolve(APP_HOST, nginx)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl Driver {
    fn new(n: usize, nginx_port: u16, address: String, email: String) -> Self {
        Self {
            n,
            http: http_client(),
            auth: format!("http://{AUTH_HOST}:{nginx_port}"),
            app: format!("http://{APP_HOST}:{nginx_port}"),
            address,
            email,
            held: Vec::new(),
            ended: Vec::new(),
            lost: Vec::new(),
            unsure_sign_ins: 0,
            records: Vec::new(),
            seq: 0,
            iterations: 0,
        }
    }

    /// Sends `request`, tagged for the access log, and records it: `ok`
    /// when the status is `expected`.
    async fn call(&mut self, kind: Kind, request: RequestBuilder, expected: u16) -> Answer {
        self.seq += 1;
        let tag = format!("c{}-{}", self.n, self.seq);
        let started = Instant::now();
        let sent = request
            .header("x-cluster-tag", &tag)
            .header("x-forwarded-for", &self.address)
            .send()
            .await;
        let answer = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let set_cookies = response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                match response.text().await {
                    Ok(body) => Answer {
                        status: Some(status),
                        body,
                        set_cookies,
                    },
                    Err(e) => Answer {
                        status: None,
                        body: format!("body: {e}"),
                        set_cookies,
                    },
                }
            }
            Err(e) => Answer {
                status: None,
                body: format!("{e:?}"),
                set_cookies: Vec::new(),
            },
        };
        self.records.push(Record {
            kind,
            tag,
            started,
            ended: Instant::now(),
            answer: answer.status.ok_or_else(|| answer.body.clone()),
            ok: answer.status == Some(expected),
        });
        answer
    }

    /// Counts the last request as the answer the client needed after all.
    fn accept_last(&mut self) {
        if let Some(last) = self.records.last_mut() {
            last.ok = true;
        }
    }

    fn post(&self, path: &str, body: Value) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.auth)).json(&body)
    }

    /// Signs up (the first session, held by cookies, taken over as a
    /// bearer client).
    async fn sign_up(&mut self) {
        let request = self.post(
            "/api/auth/signup",
            json!({ "email": self.email, "password": GOOD_PASSWORD }),
        );
        let answer = self.call(Kind::SignUp, request, 201).await;
        assert_eq!(answer.status, Some(201), "sign-up: {}", answer.body);
        let cookie = |name: &str| {
            answer
                .set_cookies
                .iter()
                .find(|c| c.starts_with(&format!("{name}=")))
                .map(|c| cookie_value(c))
                .unwrap()
        };
        self.held.push(Held::new(cookie(ACCESS), cookie(REFRESH)));
    }

    async fn sign_in(&mut self) {
        for _ in 0..50 {
            let request = self.post(
                "/api/auth/login",
                json!({ "email": self.email, "password": GOOD_PASSWORD, "transport": "bearer" }),
            );
            let answer = self.call(Kind::SignIn, request, 200).await;
            if answer.status == Some(200) {
                let body = answer.json();
                self.held.push(Held::new(
                    body["access_token"].as_str().unwrap().to_owned(),
                    body["refresh_token"].as_str().unwrap().to_owned(),
                ));
                return;
            }
            if !answer.unsure() {
                return;
            }
            self.unsure_sign_ins += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn session_check(&mut self) {
        let Some(held) = self.held.last() else { return };
        let request = self
            .http
            .get(format!("{}/api/auth/me", self.auth))
            .bearer_auth(&held.access);
        let answer = self.call(Kind::SessionCheck, request, 200).await;
        if answer.status == Some(200) && answer.json()["user"]["email"] != self.email.as_str() {
            self.records.last_mut().unwrap().ok = false;
        }
    }

    /// Refreshes session `index`; when a try fails on its way, tries the
    /// same token again, as a client must: within the grace window it gets
    /// the successor the first try may have made.
    async fn refresh(&mut self, index: usize) {
        let mut after_a_failure = false;
        for _ in 0..50 {
            let held = &self.held[index];
            let request = self.post(
                "/api/auth/refresh",
                json!({ "refresh_token": held.refresh, "transport": "bearer" }),
            );
            let answer = self.call(Kind::Refresh, request, 200).await;
            if answer.status == Some(200) {
                let body = answer.json();
                let renewed = Held::new(
                    body["access_token"].as_str().unwrap().to_owned(),
                    body["refresh_token"].as_str().unwrap().to_owned(),
                );
                assert_eq!(
                    renewed.sid, self.held[index].sid,
                    "a refresh changed session"
                );
                self.held[index] = renewed;
                return;
            }
            if !answer.unsure() {
                // Refused: the session is gone although the client did
                // nothing to end it.
                let lost = self.held.remove(index);
                self.lost.push(format!(
                    "{} (refresh answered {:?} {}, after a failure: {after_a_failure})",
                    lost.sid, answer.status, answer.body
                ));
                return;
            }
            after_a_failure = true;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn forward_auth(&mut self) {
        let Some(held) = self.held.last() else { return };
        let request = self
            .http
            .get(format!("{}/reports?client={}", self.app, self.n))
            .bearer_auth(&held.access);
        let answer = self.call(Kind::ForwardAuth, request, 200).await;
        if answer.status == Some(200) && answer.body != self.email {
            self.records.last_mut().unwrap().ok = false;
        }
    }

    /// Signs the oldest session out; a 401 after a try that failed on its
    /// way means that try did it.
    async fn sign_out_oldest(&mut self) {
        let held = self.held.remove(0);
        let mut after_a_failure = false;
        for _ in 0..50 {
            let request = self.post("/api/auth/logout", json!({ "refresh_token": held.refresh }));
            let answer = self.call(Kind::SignOut, request, 204).await;
            if answer.status == Some(204) || (after_a_failure && answer.status == Some(401)) {
                self.accept_last();
                self.ended.push(held.sid);
                return;
            }
            if !answer.unsure() {
                self.lost.push(format!(
                    "{} (sign-out answered {:?} {})",
                    held.sid, answer.status, answer.body
                ));
                return;
            }
            after_a_failure = true;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sign in, check the session, refresh one, pass the gate, and sign
    /// the oldest out once more than `KEEP` are held.
    async fn iteration(&mut self) {
        self.sign_in().await;
        self.session_check().await;
        if !self.held.is_empty() {
            let index = self.iterations % self.held.len();
            self.refresh(index).await;
        }
        self.forward_auth().await;
        if self.held.len() > KEEP {
            self.sign_out_oldest().await;
        }
        self.iterations += 1;
    }
}

/// Runs every driver's loop until `stop` is set; each finishes the
/// iteration it is in.
fn drive(drivers: Vec<Driver>, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<Driver>> {
    drivers
        .into_iter()
        .map(|mut driver| {
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    driver.iteration().await;
                }
                driver
            })
        })
        .collect()
}

async fn gather(running: Vec<tokio::task::JoinHandle<Driver>>) -> Vec<Driver> {
    let mut drivers = Vec::new();
    for handle in running {
        drivers.push(handle.await.unwrap());
    }
    drivers
}

// --------------------------------------------------------------- checks --

/// A failed request, with nginx's view of it.
struct Failure {
    record: Record,
    log: Option<LogLine>,
}

impl Failure {
    fn describe(&self, cluster: &Cluster) -> String {
        let r = &self.record;
        let replicas = self.log.as_ref().map(|l| {
            l.replicas()
                .iter()
                .map(|a| match cluster.replica_of(a) {
                    Some(i) => format!("replica {i}"),
                    None => a.clone(),
                })
                .collect::<Vec<_>>()
        });
        format!(
            "{} {:?} at {:.3}s-{:.3}s: {:?}; nginx: {:?} via {:?}",
            r.tag,
            r.kind,
            r.started.duration_since(cluster.t0).as_secs_f64(),
            r.ended.duration_since(cluster.t0).as_secs_f64(),
            r.answer,
            self.log.as_ref().map(|l| l.status),
            replicas
        )
    }
}

fn failures(records: &[Record], log: &HashMap<String, LogLine>) -> Vec<Failure> {
    records
        .iter()
        .filter(|r| !r.ok)
        .map(|r| Failure {
            record: r.clone(),
            log: log.get(&r.tag).cloned(),
        })
        .collect()
}

/// Requests and failures by kind.
fn tally(records: &[Record]) -> String {
    let mut by_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    for r in records {
        let entry = by_kind.entry(r.kind).or_default();
        entry.0 += 1;
        if !r.ok {
            entry.1 += 1;
        }
    }
    by_kind
        .iter()
        .map(|(kind, (n, failed))| format!("{kind:?} {n} ({failed} failed)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A session in the database: its user's email, its id, whether it is
/// live, how many of its refresh tokens are current (not rotated), and the
/// hash of one of them.
type SessionRow = (String, String, bool, i64, Option<Vec<u8>>);

/// The database against what the drivers believe: every held session is
/// live with exactly one current refresh token, the one its driver holds;
/// every signed-out session is revoked; a live session no driver holds
/// (left by a sign-in that failed on its way) is allowed only as many times
/// as such sign-ins. Returns a line for the report.
async fn check_sessions(cluster: &Cluster, drivers: &[Driver]) -> String {
    let mut sql = PgConnection::connect(&cluster.database.url).await.unwrap();
    let rows: Vec<SessionRow> = sqlx::query_as(
        "SELECT u.email, s.id::text, s.revoked_at IS NULL AND s.expires_at > now(), \
                (SELECT count(*) FROM refresh_tokens t \
                 WHERE t.family_id = s.id AND t.rotated_at IS NULL), \
                (SELECT t.token_hash FROM refresh_tokens t \
                 WHERE t.family_id = s.id AND t.rotated_at IS NULL LIMIT 1) \
         FROM sessions s JOIN users u ON u.id = s.user_id",
    )
    .fetch_all(&mut sql)
    .await
    .unwrap();
    sql.close().await.unwrap();
    let (mut held, mut orphans, mut unsure) = (0, 0, 0);
    for driver in drivers {
        assert!(
            driver.lost.is_empty(),
            "client {} lost sessions: {:?}",
            driver.n,
            driver.lost
        );
        let mine: HashMap<&str, (bool, i64, Option<&Vec<u8>>)> = rows
            .iter()
            .filter(|r| r.0 == driver.email)
            .map(|r| (r.1.as_str(), (r.2, r.3, r.4.as_ref())))
            .collect();
        for session in &driver.held {
            let Some((live, current, hash)) = mine.get(session.sid.as_str()) else {
                panic!(
                    "client {}: session {} is not in the database",
                    driver.n, session.sid
                );
            };
            assert!(
                *live,
                "client {}: held session {} ended",
                driver.n, session.sid
            );
            assert_eq!(
                *current, 1,
                "client {}: session {} has {current} current refresh tokens",
                driver.n, session.sid
            );
            assert_eq!(
                *hash,
                Some(&hash_refresh_token(&session.refresh)),
                "client {}: session {}'s current token is not the one the client holds",
                driver.n,
                session.sid
            );
        }
        // Revoked, or purged already (a replica purges ended sessions as
        // it starts).
        for sid in &driver.ended {
            let live = mine.get(sid.as_str()).is_some_and(|s| s.0);
            assert!(
                !live,
                "client {}: signed-out session {sid} still live",
                driver.n
            );
        }
        let believed: HashSet<&str> = driver.held.iter().map(|h| h.sid.as_str()).collect();
        let extra = mine
            .iter()
            .filter(|(sid, (live, _, _))| *live && !believed.contains(**sid))
            .count();
        assert!(
            extra <= driver.unsure_sign_ins,
            "client {}: {extra} live sessions it does not hold, after {} unsure sign-ins",
            driver.n,
            driver.unsure_sign_ins
        );
        held += driver.held.len();
        orphans += extra;
        unsure += driver.unsure_sign_ins;
    }
    format!(
        "{held} held sessions live with the token their client holds; {} signed out and revoked; \
         {orphans} live sessions nobody holds (after {unsure} sign-ins that failed on their way)",
        drivers.iter().map(|d| d.ended.len()).sum::<usize>()
    )
}

fn describe_transitions(transitions: &[Transition]) -> String {
    transitions
        .iter()
        .map(|t| {
            let state = match t.state {
                Readiness::Ready => "200".to_owned(),
                Readiness::NotReady(status) => status.to_string(),
                Readiness::Unreachable => "unreachable".to_owned(),
            };
            format!("{:.3}s {state}", t.at.as_secs_f64())
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

// ------------------------------------------------------------------ test --

/// The throttle through nginx: wrong passwords on one account from one
/// client address, one after another (so round-robin spreads them over the
/// replicas) and then all at once. Returns lines for the report.
async fn throttle_holds_one_budget(cluster: &Cluster) -> Vec<String> {
    let port = cluster.nginx.port;
    let mut report = Vec::new();

    // One after another: the budget's failures, then a block everywhere.
    let mut driver = Driver::new(
        100,
        port,
        "203.0.113.7".into(),
        "throttled-one-by-one@example.com".into(),
    );
    driver.sign_up().await;
    for _ in 0..BUDGET + REPLICAS {
        let request = driver.post(
            "/api/auth/login",
            json!({ "email": driver.email, "password": WRONG }),
        );
        driver.call(Kind::SignIn, request, 401).await;
    }
    let log = cluster
        .nginx
        .access_log_for(driver.records.iter().map(|r| r.tag.as_str()))
        .await;
    let attempts: Vec<(u16, usize)> = driver.records[1..]
        .iter()
        .map(|r| {
            let line = &log[&r.tag];
            let replica = cluster.replica_of(line.upstreams.last().unwrap()).unwrap();
            (*r.answer.as_ref().unwrap(), replica)
        })
        .collect();
    let statuses: Vec<u16> = attempts.iter().map(|a| a.0).collect();
    let mut expected = vec![401; BUDGET];
    expected.extend([429; REPLICAS]);
    assert_eq!(
        statuses, expected,
        "attempts (status, replica): {attempts:?}"
    );
    let counted_on: HashSet<usize> = attempts[..BUDGET].iter().map(|a| a.1).collect();
    let refused_on: HashSet<usize> = attempts[BUDGET..].iter().map(|a| a.1).collect();
    assert_eq!(counted_on.len(), REPLICAS, "{attempts:?}");
    assert_eq!(refused_on.len(), REPLICAS, "{attempts:?}");
    let mut sql = PgConnection::connect(&cluster.database.url).await.unwrap();
    let (hits, blocked): (i64, bool) = sqlx::query_as(
        "SELECT hits, blocked_until > now() FROM rate_limits \
         WHERE key LIKE 'login:account:throttled-one-by-one@example.com:net:%'",
    )
    .fetch_one(&mut sql)
    .await
    .unwrap();
    assert_eq!((hits, blocked), (BUDGET as i64, true));
    report.push(format!(
        "one by one: (status, replica) {attempts:?}; one row in rate_limits, {hits} hits, blocked"
    ));

    // All at once: three budgets' worth, in parallel through nginx.
    let email = "throttled-all-at-once@example.com";
    let mut signer = Driver::new(101, port, "203.0.113.8".into(), email.into());
    signer.sign_up().await;
    let guesses = (0..BUDGET * REPLICAS).map(|g| {
        let http = http_client();
        let url = format!("http://{AUTH_HOST}:{port}/api/auth/login");
        async move {
            let tag = format!("burst-{g}");
            let status = http
                .post(url)
                .header("x-cluster-tag", &tag)
                .header("x-forwarded-for", "203.0.113.8")
                .json(&json!({ "email": email, "password": WRONG }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            (tag, status)
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let log = cluster
        .nginx
        .access_log_for(answers.iter().map(|(tag, _)| tag.as_str()))
        .await;
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut replicas = HashSet::new();
    for (tag, status) in &answers {
        *by_status.entry(*status).or_default() += 1;
        replicas.insert(
            cluster
                .replica_of(log[tag].upstreams.last().unwrap())
                .unwrap(),
        );
    }
    assert_eq!(
        by_status,
        BTreeMap::from([(401, BUDGET), (429, BUDGET * (REPLICAS - 1))]),
        "{answers:?}"
    );
    let (hits,): (i64,) = sqlx::query_as(
        "SELECT hits FROM rate_limits WHERE key LIKE 'login:account:throttled-all-at-once@example.com:net:%'",
    )
    .fetch_one(&mut sql)
    .await
    .unwrap();
    assert_eq!(hits, BUDGET as i64);
    sql.close().await.unwrap();
    report.push(format!(
        "all at once: {} guesses on {} replicas got {by_status:?}; {hits} hits counted",
        answers.len(),
        replicas.len()
    ));
    report
}

/// One SIGKILL of a replica and its restart.
struct Kill {
    victim: usize,
    /// Just before and just after the signal.
    from: Instant,
    to: Instant,
    at: Duration,
    restart_at: Duration,
    ready_at: Duration,
}

/// One SIGTERM of a replica and its restart.
struct Stop {
    replica: usize,
    at: Duration,
    exit: Option<std::process::ExitStatus>,
    exited_at: Duration,
    ready_at: Duration,
}

/// The drivers' records, and nginx's log lines for them.
async fn records_and_log(
    cluster: &Cluster,
    drivers: &[Driver],
) -> (Vec<Record>, HashMap<String, LogLine>) {
    let records: Vec<Record> = drivers.iter().flat_map(|d| d.records.clone()).collect();
    let log = cluster
        .nginx
        .access_log_for(records.iter().map(|r| r.tag.as_str()))
        .await;
    (records, log)
}

/// nginx's upstream errors since `before`.
fn upstream_errors_since(
    cluster: &Cluster,
    before: BTreeMap<String, usize>,
) -> BTreeMap<String, usize> {
    let mut errors = cluster.nginx.upstream_errors();
    for (what, n) in before {
        *errors.entry(what).or_default() -= n;
    }
    errors.retain(|_, n| *n > 0);
    errors
}

/// The drivers loop for `load` while, `kills` times, a replica (each time
/// the next) is killed with SIGKILL a third into its share of the time,
/// left down a sixth of it (at least a second), and restarted on its port.
async fn kill_phase(
    cluster: &mut Cluster,
    drivers: Vec<Driver>,
    load: Duration,
    kills: u32,
) -> (Vec<Driver>, Vec<Kill>) {
    let stop = Arc::new(AtomicBool::new(false));
    let running = drive(drivers, stop.clone());
    let segment = load / kills;
    let mut done = Vec::new();
    for k in 0..kills {
        let victim = (VICTIM + k as usize) % REPLICAS;
        let segment_started = Instant::now();
        tokio::time::sleep(segment / 3).await;
        let from = Instant::now();
        cluster.replicas[victim].as_mut().unwrap().kill_now();
        let to = Instant::now();
        tokio::time::sleep((segment / 6).max(Duration::from_secs(1))).await;
        let restart_at = cluster.at();
        cluster.replicas[victim] = Some(cluster.spawn_replica(victim).await.unwrap());
        cluster.until_ready(victim).await;
        done.push(Kill {
            victim,
            from,
            to,
            at: from.duration_since(cluster.t0),
            restart_at,
            ready_at: cluster.at(),
        });
        tokio::time::sleep(segment.saturating_sub(segment_started.elapsed())).await;
    }
    stop.store(true, Ordering::Relaxed);
    (gather(running).await, done)
}

/// The drivers loop while, `rounds` times, each replica in turn is stopped
/// with SIGTERM, waited for, restarted on its port, waited for until ready
/// and until nginx would try it again.
async fn rolling_phase(
    cluster: &mut Cluster,
    drivers: Vec<Driver>,
    rounds: u64,
) -> (Vec<Driver>, Vec<Stop>) {
    let stop = Arc::new(AtomicBool::new(false));
    let running = drive(drivers, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut done = Vec::new();
    for _ in 0..rounds {
        for replica in 0..REPLICAS {
            let at = cluster.at();
            let exit = cluster.replicas[replica]
                .as_mut()
                .unwrap()
                .terminate(Duration::from_secs(40))
                .await;
            let exited_at = cluster.at();
            cluster.replicas[replica] = Some(cluster.spawn_replica(replica).await.unwrap());
            cluster.until_ready(replica).await;
            done.push(Stop {
                replica,
                at,
                exit,
                exited_at,
                ready_at: cluster.at(),
            });
            tokio::time::sleep(FAIL_TIMEOUT + Duration::from_millis(500)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    (gather(running).await, done)
}

/// See the module's documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_behind_nginx_survive_a_kill_and_a_rolling_restart() {
    let seconds = setting("PORTCULLIS_CLUSTER_SECONDS", 10).max(3);
    let clients = setting("PORTCULLIS_CLUSTER_CLIENTS", 6) as usize;
    // One kill and one round of restarts in the short run; one of each
    // per 20 s in a longer one.
    let kills = u32::try_from(seconds / 20).unwrap().max(1);
    let rounds = (seconds / 20).max(1);
    let t0 = Instant::now();
    let mut cluster = Cluster::start(t0).await;
    let mut report = vec![format!(
        "three replicas up behind nginx after {:.2}s; {clients} clients; {seconds}s of load \
         around {kills} kill(s), then {rounds} round(s) of rolling restarts",
        cluster.at().as_secs_f64()
    )];

    report.extend(throttle_holds_one_budget(&cluster).await);

    // Clients sign up, then loop while replicas are killed and restarted.
    let mut drivers: Vec<Driver> = (0..clients)
        .map(|n| {
            Driver::new(
                n,
                cluster.nginx.port,
                format!("198.51.100.{}", n + 1),
                format!("cluster-client-{n}@example.com"),
            )
        })
        .collect();
    for driver in &mut drivers {
        driver.sign_up().await;
    }
    let phase_start = cluster.at();
    let errors_before = cluster.nginx.upstream_errors();
    let (mut drivers, killed) =
        kill_phase(&mut cluster, drivers, Duration::from_secs(seconds), kills).await;
    let phase_end = cluster.at();
    let (records, log) = records_and_log(&cluster, &drivers).await;
    let failed = failures(&records, &log);
    // A failure is explained when it is a POST (nginx passes no POST on
    // once sent) in flight at a kill, and that kill's replica answered it
    // with nothing: nginx's 502.
    let (explained, unexplained): (Vec<&Failure>, Vec<&Failure>) = failed.iter().partition(|f| {
        let r = &f.record;
        !r.kind.idempotent()
            && killed.iter().any(|k| {
                r.started <= k.to
                    && r.ended >= k.from
                    && f.log.as_ref().is_some_and(|l| {
                        l.method == "POST"
                            && l.status == 502
                            && l.upstreams.last() == Some(&cluster.address(k.victim))
                    })
            })
    });
    report.push(format!(
        "load with kills {:.3}s-{:.3}s",
        phase_start.as_secs_f64(),
        phase_end.as_secs_f64()
    ));
    for k in &killed {
        report.push(format!(
            "  kill -9 of replica {} at {:.3}s; restarted at {:.3}s, ready at {:.3}s",
            k.victim,
            k.at.as_secs_f64(),
            k.restart_at.as_secs_f64(),
            k.ready_at.as_secs_f64()
        ));
    }
    report.push(format!("  requests: {}", tally(&records)));
    for f in &failed {
        report.push(format!("  failed: {}", f.describe(&cluster)));
    }
    report.push(format!(
        "  {} failed, {} of them non-idempotent and in flight on a killed replica",
        failed.len(),
        explained.len()
    ));
    report.push(format!(
        "  nginx upstream errors: {:?}",
        upstream_errors_since(&cluster, errors_before)
    ));
    let on_each: Vec<usize> = (0..REPLICAS)
        .map(|i| {
            let a = cluster.address(i);
            log.values().filter(|l| l.replicas().contains(&a)).count()
        })
        .collect();
    report.push(format!(
        "  nginx requests touching each replica: {on_each:?}"
    ));
    for i in 0..REPLICAS {
        report.push(format!(
            "  readiness of replica {i}: {}",
            describe_transitions(&cluster.transitions(i, phase_start, phase_end))
        ));
    }
    report.push(format!(
        "  database: {}",
        check_sessions(&cluster, &drivers).await
    ));
    println!("{}", report.join("\n"));
    report.clear();
    assert!(
        unexplained.is_empty(),
        "failures beyond those in flight on the killed replica:\n{}",
        unexplained
            .iter()
            .map(|f| f.describe(&cluster))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        explained.len() <= clients * killed.len(),
        "more failures than requests in flight"
    );
    // Readiness: each victim unreachable within a second of its kill, not
    // ready before its restart, ready after; the others unchanged.
    for k in &killed {
        let states = cluster.transitions(k.victim, k.at, k.ready_at + Duration::from_secs(1));
        assert!(
            matches!(
                states.first(),
                Some(Transition { state: Readiness::Unreachable, at, .. })
                    if *at <= k.at + Duration::from_secs(1)
            ),
            "replica {} after its kill: {states:?}",
            k.victim
        );
        assert!(
            states
                .iter()
                .all(|t| t.at >= k.restart_at || t.state != Readiness::Ready),
            "replica {} ready before its restart: {states:?}",
            k.victim
        );
        assert_eq!(states.last().unwrap().state, Readiness::Ready, "{states:?}");
        for i in (0..REPLICAS).filter(|&i| i != k.victim) {
            let others = cluster.transitions(i, k.at, k.ready_at);
            assert!(
                others.is_empty(),
                "replica {i}'s readiness changed: {others:?}"
            );
        }
    }

    // Rolling restarts under load: not one request may fail.
    for driver in &mut drivers {
        driver.records.clear();
    }
    let phase_start = cluster.at();
    let errors_before = cluster.nginx.upstream_errors();
    let (drivers, stopped) = rolling_phase(&mut cluster, drivers, rounds).await;
    let phase_end = cluster.at();
    let (records, log) = records_and_log(&cluster, &drivers).await;
    let failed = failures(&records, &log);
    report.push(format!(
        "rolling restart {:.3}s-{:.3}s",
        phase_start.as_secs_f64(),
        phase_end.as_secs_f64()
    ));
    // Each stop's readiness, up to the next stop.
    let windows: Vec<(Duration, Duration)> = stopped
        .iter()
        .enumerate()
        .map(|(n, s)| (s.at, stopped.get(n + 1).map_or(phase_end, |next| next.at)))
        .collect();
    for (s, (from, to)) in stopped.iter().zip(&windows) {
        report.push(format!(
            "  replica {}: SIGTERM at {:.3}s, exited {:?} after {:.3}s, ready again at {:.3}s; readiness {}",
            s.replica,
            s.at.as_secs_f64(),
            s.exit,
            (s.exited_at - s.at).as_secs_f64(),
            s.ready_at.as_secs_f64(),
            describe_transitions(&cluster.transitions(s.replica, *from, *to))
        ));
    }
    report.push(format!("  requests: {}", tally(&records)));
    for f in &failed {
        report.push(format!("  failed: {}", f.describe(&cluster)));
    }
    report.push(format!(
        "  nginx upstream errors: {:?}",
        upstream_errors_since(&cluster, errors_before)
    ));
    report.push(format!(
        "  database: {}",
        check_sessions(&cluster, &drivers).await
    ));
    report.push(format!("total {:.2}s", cluster.at().as_secs_f64()));
    println!("{}", report.join("\n"));
    assert!(
        failed.is_empty(),
        "requests failed during the rolling restart:\n{}",
        failed
            .iter()
            .map(|f| f.describe(&cluster))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (s, (from, to)) in stopped.iter().zip(&windows) {
        assert!(
            s.exit.is_some_and(|status| status.success()),
            "replica {} did not exit cleanly on SIGTERM: {:?}",
            s.replica,
            s.exit
        );
        // Not ready from the signal until it is back: 503 while it drains
        // (if a probe gets in), then unreachable, then 200.
        let states = cluster.transitions(s.replica, *from, *to);
        assert!(
            states.first().is_some_and(|t| t.state != Readiness::Ready),
            "replica {} after SIGTERM: {states:?}",
            s.replica
        );
        assert!(
            states
                .iter()
                .all(|t| t.at >= s.exited_at || t.state != Readiness::Ready),
            "replica {} ready while stopping: {states:?}",
            s.replica
        );
        assert_eq!(states.last().unwrap().state, Readiness::Ready, "{states:?}");
        for i in (0..REPLICAS).filter(|&i| i != s.replica) {
            let others = cluster.transitions(i, s.at, s.ready_at);
            assert!(
                others.is_empty(),
                "replica {i}'s readiness changed: {others:?}"
            );
        }
    }
}
