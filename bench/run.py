#!/usr/bin/env python3
"""`make bench`: what Portcullis costs per request, on SQLite and PostgreSQL.

The release server runs pinned to core 0 and the load generator (Debian's
wrk) to core 1, so they do not compete. Each figure is the median of
BENCH_RUNS runs (default 3) of BENCH_SECONDS seconds (default 10), after a
warm-up. The Markdown report is printed and written to bench/results/.

Environment: BENCH_SECONDS, BENCH_RUNS, BENCH_DATABASE_URL (a PostgreSQL
server where a fresh database is created and dropped; default
postgres://postgres@127.0.0.1:5432/postgres), CARGO_TARGET_DIR; and, to
iterate on one path, BENCH_ONLY (comma-separated: me, forward-auth,
verify, login, refresh, signup, pages, visit, flood) and BENCH_BACKENDS (sqlite, postgres). The
server's log is thrown away unless BENCH_SERVER_LOG names a file to
append it to; BENCH_RUST_LOG sets its filter (default: error).
BENCH_BINARY measures another build of the server instead of this tree's
release binary, and BENCH_SITE_ROOT another build's site (default:
target/site). PostgreSQL's local processes run on the load core during
the PostgreSQL part (BENCH_PIN_DATABASE=0 leaves them where they are).

Forward-auth (`/api/authz/auth-request`, wrk playing nginx) is measured
beside `/health` like the session check; one access-token check with
`portcullis-verify` is timed by `portcullis verify-timing`.

The bare hash is compared with @node-rs/argon2 (bench/node, the same
RustCrypto crate behind N-API) on the same core, in the same run. The
first visit to /login is measured in Chromium (bench/first_visit.js).
"""

import base64
import datetime
import gzip
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
# BENCH_BINARY: another build to measure, e.g. main's, to compare in one sitting.
BINARY = os.environ.get("BENCH_BINARY") or os.path.join(TARGET, "release", "portcullis")
SITE_ROOT = os.environ.get("BENCH_SITE_ROOT") or os.path.join(ROOT, "target", "site")
PKG = os.path.join(SITE_ROOT, "pkg")
WRK_DIR = os.path.join(ROOT, "bench", "wrk")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PG_ADMIN = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PORT = 3390
BASE = f"http://127.0.0.1:{PORT}"
PASSWORD = "plinth-violet-forage-42"
SERVER_CORE, LOAD_CORE = "0", "1"
# The server sees one core (taskset), so it hashes one password at a time.
SERVER_CORES = 1
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
BACKENDS = set(filter(None, os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")))
# Refreshes in flight. By Little's law a p99 under 10 ms at 3,000/s leaves
# room for about 16 waiting at once; 64 is measured too, as overload.
REFRESH_CONNECTIONS = 16


HASH_MEMORY_RELEASE_SECS = 2
FIRST_BACKEND = "SQLite" if "sqlite" in BACKENDS else "PostgreSQL"
NODE_ARGON2 = os.path.join(ROOT, "bench", "node", "node_modules", "@node-rs", "argon2")


def at_rest() -> None:
    """Waits until memory left by hashing has been released."""
    time.sleep(HASH_MEMORY_RELEASE_SECS * 2 + 1)


def wanted(scenario: str) -> bool:
    return not ONLY or scenario in ONLY

# Limits high enough not to refuse the benchmark itself; the counting and
# its database writes still happen on every sign-up and refresh.
SERVER_ENV = {
    "PORTCULLIS_LISTEN_ADDR": f"127.0.0.1:{PORT}",
    "PORTCULLIS_JWT_SECRET": "bench-secret-0123456789abcdef-0123456789",
    "PORTCULLIS_SIGNUP_LIMIT_PER_HOUR": "1000000",
    "PORTCULLIS_REFRESH_LIMIT_PER_MINUTE": "1000000",
    "PORTCULLIS_TOKEN_LIMIT_PER_CLIENT_PER_MINUTE": "1000000",
    "PORTCULLIS_TOKEN_LIMIT_PER_IP_PER_MINUTE": "1000000",
    # Its API key may read users: the machine scenario's caller.
    "PORTCULLIS_BOOTSTRAP_ADMIN": "bench-admin@example.com",
    "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "error"),
    "LEPTOS_SITE_ROOT": SITE_ROOT,
    # Hashing memory unused this long goes back to the OS (default 60 s):
    # short here, so "at rest" is seen without waiting a minute.
    "PORTCULLIS_HASH_MEMORY_RELEASE_SECS": str(HASH_MEMORY_RELEASE_SECS),
    # Forward-auth: wrk on loopback plays nginx, asking about this host.
    "PORTCULLIS_TRUSTED_PROXIES": "127.0.0.1",
    "PORTCULLIS_ALLOWED_RETURN_HOSTS": "app.example.com",
}
FORWARD_AUTH_HEADERS = ["X-Original-Method: GET", "X-Original-URL: https://app.example.com/dashboard?tab=1"]


# --- the server -------------------------------------------------------------

class Server:
    def __init__(self, database_url: str):
        env = dict(os.environ, DATABASE_URL=database_url, **SERVER_ENV)
        log = os.environ.get("BENCH_SERVER_LOG")
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, BINARY], env=env,
            stdout=open(log, "a") if log else subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request("GET", "/ready")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit("bench: the server did not become ready")

    def memory_kib(self, field: str) -> int:
        """VmRSS (resident now) or VmHWM (peak resident) of the server."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class WaitSampler:
    """A light profile of the database side: five times a second, what each
    active PostgreSQL session of the benchmark database waits on
    (`pg_stat_activity.wait_event`; "CPU" when it waits on nothing)."""

    QUERY = (
        "SELECT extract(epoch FROM clock_timestamp())::numeric(16, 2), "
        "coalesce(wait_event, 'CPU'), count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND state = 'active' "
        "AND pid <> pg_backend_pid() GROUP BY 2"
    )

    def __init__(self, database_url: str):
        # To a file: a pipe would fill up and stall psql in a long run.
        self.output = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, "psql", database_url, "-AtqX", "-F", "|"],
            stdin=subprocess.PIPE, stdout=self.output, stderr=subprocess.DEVNULL, text=True,
        )
        self.process.stdin.write(self.QUERY + " \\watch 0.2\n")
        self.process.stdin.flush()

    def stop(self) -> list:
        """The samples, as (time, wait event, sessions)."""
        self.process.terminate()
        self.process.wait(timeout=10)
        self.output.seek(0)
        samples = []
        for line in self.output:
            parts = line.strip().split("|")
            if len(parts) == 3:
                samples.append((float(parts[0]), parts[1], int(parts[2])))
        self.output.close()
        return samples


def top_waits(samples: list, start: float, end: float, top: int = 3) -> str:
    """The commonest wait events between start and end, as shares of the
    sessions seen active then."""
    counts = {}
    for at, event, sessions in samples:
        if start <= at <= end:
            counts[event] = counts.get(event, 0) + sessions
    total = sum(counts.values())
    if not total:
        return "no session seen active"
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{event} {100 * n / total:.0f}%" for event, n in ranked) + f" (of {total} seen)"


def request(method: str, path: str, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    payload = json.dumps(body) if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, payload, all_headers)
    response = conn.getresponse()
    data = response.read()
    cookies = response.headers.get_all("Set-Cookie") or []
    conn.close()
    return response.status, data, cookies


def signup(email: str) -> str:
    """Creates an account; returns its access cookie."""
    status, _, cookies = request("POST", "/api/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, f"signup: {status}"
    for cookie in cookies:
        if cookie.startswith("portcullis_access="):
            return cookie.split(";")[0]
    sys.exit("bench: no access cookie")


def bearer_refresh_tokens(email: str, count: int) -> str:
    """Signs in `count` times; returns a file of the refresh tokens."""
    handle, path = tempfile.mkstemp(prefix="portcullis-tokens-")
    with os.fdopen(handle, "w") as out:
        for _ in range(count):
            status, data, _ = request(
                "POST", "/api/auth/login", {"email": email, "password": PASSWORD, "transport": "bearer"}
            )
            assert status == 200, f"login: {status}"
            out.write(json.loads(data)["refresh_token"] + "\n")
    return path


# --- the load generator -----------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(path: str, connections: int, seconds: int = SECONDS, script=None, headers=(), env=None) -> dict:
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        command += ["-s", os.path.join(WRK_DIR, script)]
    for header in headers:
        command += ["-H", header]
    command.append(BASE + path)
    output = subprocess.run(
        command, env=dict(os.environ, **(env or {})), capture_output=True, text=True, check=True
    ).stdout
    latency = {
        p: float(v) * UNITS[u]
        for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    total = int(re.search(r"(\d+) requests in", output).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency.get("50", float("nan")),
        "p99": latency.get("99", float("nan")),
        "requests": total,
        "non2xx": int(failed.group(1)) if failed else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def median_runs(measure, runs: int = RUNS) -> dict:
    results = [measure() for _ in range(runs)]
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


# --- the scenarios -------------------------------------------------------------

def against_the_limit(measure) -> dict:
    """One run of `measure` (a hashing-bound wrk run) with the hashing limit
    it is held to timed just before and just after it, on the same core: a
    neighbour that slows the machine for a while slows both, so the ratio
    of each run is taken against its own yardstick (the median of the runs'
    ratios is reported)."""
    before = hash_time_ms()
    result = measure()
    after = hash_time_ms()
    result["yardstick_ms"] = (before + after) / 2
    result["limit_ratio"] = result["rps"] / (SERVER_CORES * 1000 / result["yardstick_ms"])
    return result


def verify_timing() -> list:
    """(algorithm, µs) per access-token check, on the server's core."""
    if ONLY and "verify" not in ONLY and "forward-auth" not in ONLY:
        return []
    output = subprocess.run(
        ["taskset", "-c", SERVER_CORE, BINARY, "verify-timing"], env=dict(os.environ, **SERVER_ENV),
        capture_output=True, text=True, check=True,
    ).stdout
    return [(alg, float(micros)) for alg, micros in (line.split() for line in output.splitlines())]


def hash_time_ms() -> float:
    output = subprocess.run(
        ["taskset", "-c", SERVER_CORE, BINARY, "hash-timing"],
        env=dict(os.environ, **SERVER_ENV), capture_output=True, text=True, check=True,
    ).stdout
    return float(output.strip())


def node_hash_ms() -> float:
    """The same hash with @node-rs/argon2, timed the same way, same core."""
    output = subprocess.run(
        ["taskset", "-c", SERVER_CORE, "node", os.path.join(ROOT, "bench", "node", "hash_timing.js")],
        env=dict(os.environ, **SERVER_ENV), capture_output=True, text=True, check=True,
    ).stdout
    return float(output.strip())


def first_visit() -> dict:
    """A cold visit to /login in Chromium, then a repeat one (cache warm)."""
    output = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "node", os.path.join(ROOT, "bench", "first_visit.js"), BASE],
        env=dict(os.environ, NODE_PATH=os.path.join(ROOT, "end2end", "node_modules")),
        capture_output=True, text=True, check=True,
    ).stdout
    visits = json.loads(output)

    def totals(requests):
        network = [r for r in requests if not r.get("fromCache")]
        return {"requests": len(requests), "network_requests": len(network),
                "bytes": sum(r["bytes"] for r in network)}

    # What a browser that speaks only gzip would download of the bundle.
    bundle_gzip = 0
    for r in visits["first"]:
        path = urllib.parse.urlsplit(r["url"]).path
        if path.startswith("/pkg/"):
            bundle_gzip += gzip_size(os.path.join(PKG, path[len("/pkg/"):]))
    return {
        "first": totals(visits["first"]), "repeat": totals(visits["repeat"]),
        "encodings": sorted({r["encoding"] for r in visits["first"] if r["encoding"]}),
        "bundle_gzip": bundle_gzip,
        "pkg_requests": [urllib.parse.urlsplit(r["url"]).path for r in visits["first"]
                         if urllib.parse.urlsplit(r["url"]).path.startswith("/pkg/")],
    }


def gzip_size(path: str) -> int:
    """The size of the file's gzip variant, as served; gzip -9 if none."""
    if os.path.exists(path + ".gz"):
        return os.path.getsize(path + ".gz")
    with open(path, "rb") as f:
        return len(gzip.compress(f.read(), 9))


def bench_backend(name: str, database_url: str) -> dict:
    print(f"bench: {name}", file=sys.stderr)
    server = Server(database_url)
    figures = {"backend": name, "spans": {}}
    sampler = None
    try:
        if database_url.startswith("postgres"):
            sampler = WaitSampler(database_url)
        stamp = int(time.time())
        cookie = signup(f"bench-{stamp}@example.com")
        request("GET", "/health")
        at_rest()
        figures["idle_rss_mib"] = server.memory_kib("VmRSS") / 1024

        # 1. Session check and forward-auth against the floor of the HTTP
        #    stack, alternated.
        if wanted("me") or wanted("forward-auth"):
            started = time.time()
            checks = {"health": ("/health", [])}
            if wanted("me"):
                checks["me"] = ("/api/auth/me", [f"Cookie: {cookie}"])
            if wanted("forward-auth"):
                checks["forward_auth"] = ("/api/authz/auth-request", [f"Cookie: {cookie}"] + FORWARD_AUTH_HEADERS)
                status = request("GET", "/api/authz/auth-request", headers=dict(
                    [("Cookie", cookie)] + [h.split(": ", 1) for h in FORWARD_AUTH_HEADERS]))[0]
                assert status == 200, f"forward-auth: {status}"
            for path, headers in checks.values():
                wrk(path, 64, seconds=2, headers=headers)
            runs = {key: [] for key in checks}
            for _ in range(RUNS):
                for key, (path, headers) in checks.items():
                    runs[key].append(wrk(path, 64, headers=headers))
            for key, results in runs.items():
                figures[key] = {k: statistics.median(r[k] for r in results) for k in results[0]}
            figures["spans"]["session check"] = (started, time.time())

        # 1b. Machines: the server-to-server user lookup with an API key (no
        #     database read per request in the steady state; on PostgreSQL
        #     the database's own transaction count says so) and the token
        #     endpoint (client credentials).
        if wanted("machines"):
            started = time.time()
            figures.update(machine_figures(database_url))
            figures["spans"]["machines"] = (started, time.time())

        # 2. Sign-in with the right password. Throughput with two in flight
        #    per hashing slot, so a slot never idles while the other request
        #    does its database work; latency with one per slot, the most the
        #    server takes without queueing (not overloaded).
        login_env = {"BENCH_BODY": json.dumps({"email": f"bench-{stamp}@example.com", "password": PASSWORD})}

        def login_run(connections):
            return wrk("/api/auth/login", connections, script="login.lua", env=login_env)

        if wanted("login"):
            started = time.time()
            wrk("/api/auth/login", 2 * SERVER_CORES, seconds=2, script="login.lua", env=login_env)
            hash_before, node_before = hash_time_ms(), node_hash_ms()
            figures["login"] = median_runs(lambda: against_the_limit(lambda: login_run(2 * SERVER_CORES)))
            figures["login_paced"] = median_runs(lambda: login_run(SERVER_CORES))
            # For the comparison with @node-rs/argon2 and the latency budget:
            # a neighbour's burst can slow one measurement, and the faster
            # of the two is the stricter yardstick.
            figures["hash_ms"] = min(hash_before, hash_time_ms())
            figures["node_hash_ms"] = min(node_before, node_hash_ms())
            figures["spans"]["sign-in"] = (started, time.time())

        # 3. Refresh: every request a fresh token.
        def refresh_run(connections):
            # wrk calls request() once more than it sends at start-up; the
            # spares keep every connection supplied with a live token.
            tokens = bearer_refresh_tokens(f"bench-{stamp}@example.com", connections + 8)
            try:
                return wrk("/api/auth/refresh", connections, script="refresh.lua", env={"BENCH_TOKENS": tokens})
            finally:
                os.unlink(tokens)
        if wanted("refresh"):
            started = time.time()
            figures["refresh"] = median_runs(lambda: refresh_run(REFRESH_CONNECTIONS))
            figures["refresh_64"] = median_runs(lambda: refresh_run(64))
            figures["spans"]["refresh"] = (started, time.time())

        # 4. Sign-up.
        if wanted("signup"):
            started = time.time()
            figures["signup"] = median_runs(
                lambda: against_the_limit(
                    lambda: wrk("/api/auth/signup", 2, script="signup.lua", env={"BENCH_PREFIX": f"s{time.time_ns()}"})
                )
            )
            figures["spans"]["sign-up"] = (started, time.time())

        # 5. Pages.
        if wanted("pages"):
            started = time.time()
            figures["page_login"] = median_runs(lambda: wrk("/login", 16))
            figures["page_account"] = median_runs(lambda: wrk("/account", 16, headers=[f"Cookie: {cookie}"]))
            figures["spans"]["pages"] = (started, time.time())

        # 6. A first visit to /login (the same on both backends: once).
        if wanted("visit") and name == FIRST_BACKEND:
            figures["visit"] = first_visit()

        # 7. Memory under a flood of 200 concurrent sign-ins.
        if wanted("flood"):
            figures["flood"] = wrk("/api/auth/login", 200, script="login.lua", env=login_env)
            figures["peak_rss_mib"] = server.memory_kib("VmHWM") / 1024
            at_rest()
            figures["rest_rss_mib"] = server.memory_kib("VmRSS") / 1024
        return figures
    finally:
        if sampler:
            figures["waits"] = sampler.stop()
        server.stop()


def pg_transactions(database_url: str) -> int:
    """Transactions the database has counted (pg_stat_database). Backends
    report their counts when idle for a while, hence the wait before."""
    time.sleep(11)
    out = subprocess.run(
        ["psql", database_url, "-AtqX", "-c",
         "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"],
        check=True, capture_output=True, text=True,
    )
    return int(out.stdout.strip())


def machine_figures(database_url: str) -> dict:
    cookie = signup("bench-admin@example.com")
    status, data, _ = request("POST", "/api/auth/api-keys",
                              {"name": "bench", "scopes": ["users:read"]}, {"Cookie": cookie})
    assert status == 201, f"api key: {status}"
    key = json.loads(data)["key"]
    status, data, _ = request("POST", "/api/agents",
                              {"name": "bench", "kind": "service", "permissions": ["users:read"]}, {"Cookie": cookie})
    assert status == 201, f"agent: {status}"
    agent = json.loads(data)
    status, data, _ = request("GET", "/api/auth/me", headers={"Cookie": cookie})
    path = f"/api/users/{json.loads(data)['user']['id']}"
    assert request("GET", path, headers={"X-API-Key": key})[0] == 200, "lookup"
    postgres = database_url.startswith("postgres")
    figures = {}

    def measured(name, target, headers):
        """Median of RUNS wrk runs, and on PostgreSQL the database's
        transactions per request over them (the view's own reads too)."""
        wrk(target, 64, seconds=2, headers=headers)
        before = pg_transactions(database_url) if postgres else 0
        runs = [wrk(target, 64, headers=headers) for _ in range(RUNS)]
        figures[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        if postgres:
            figures[name]["db_transactions"] = pg_transactions(database_url) - before
            figures[name]["requests_total"] = sum(r["requests"] for r in runs)

    # The key check alone: forward-auth asked about a request bearing the key.
    gate_headers = dict([("X-API-Key", key)] + [h.split(": ", 1) for h in FORWARD_AUTH_HEADERS])
    assert request("GET", "/api/authz/auth-request", headers=gate_headers)[0] == 200, "key gate"
    measured("key_gate", "/api/authz/auth-request", [f"X-API-Key: {key}"] + FORWARD_AUTH_HEADERS)
    # The lookup: the key check, then the user's own row.
    measured("key_lookup", path, [f"X-API-Key: {key}"])
    basic = base64.b64encode(f"{agent['agent']['id']}:{agent['key']}".encode()).decode()
    figures["token"] = median_runs(lambda: wrk("/oauth2/token", 4, script="token.lua", env={"BENCH_BASIC": basic}))
    # Token exchange: the person's own access token for their agent.
    status, data, _ = request("POST", "/api/agents",
                              {"name": "bench-agent", "kind": "agent", "permissions": ["users:read"]}, {"Cookie": cookie})
    assert status == 201, f"agent: {status}"
    exchange_env = {"BENCH_AGENT": json.loads(data)["agent"]["id"], "BENCH_SUBJECT": cookie.split("=", 1)[1]}
    figures["exchange"] = median_runs(lambda: wrk("/oauth2/token", 4, script="exchange.lua", env=exchange_env))
    return figures


def wasm_sizes() -> list:
    """Each part of the WASM bundle: raw, gzip -9, brotli -q 11."""
    parts = []
    for name in sorted(os.listdir(PKG)):
        if not name.endswith(".wasm"):
            continue
        path = os.path.join(PKG, name)
        with open(path, "rb") as f:
            raw = f.read()
        brotli = subprocess.run(["brotli", "-c", "-q", "11", path], capture_output=True, check=True).stdout
        parts.append({"name": name, "raw": len(raw), "gzip": len(gzip.compress(raw, 9)), "brotli": len(brotli)})
    return parts


# --- the report ---------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report(results: list, wasm: dict, cores: int, placement: str) -> str:
    lines = [
        f"# Portcullis benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Release build; server pinned to core {SERVER_CORE}, wrk (1 thread) to core {LOAD_CORE}; "
        f"median of {RUNS} runs of {SECONDS} s each. Hashing limit = {cores} core(s) ÷ one hash. {placement}",
        f"Server binary: `{BINARY}`." if os.environ.get("BENCH_BINARY") else "",
        "",
        "| figure | " + " | ".join(r["backend"] for r in results) + " |",
        "| --- | " + " | ".join("---" for _ in results) + " |",
    ]

    def row(label, fmt):
        def cell(r):
            try:
                return fmt(r)
            except KeyError:  # a scenario left out by BENCH_ONLY
                return "–"
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    def throughput(key):
        return lambda r: f"{r[key]['rps']:.0f} · {r[key]['p50']:.2f} ms · {r[key]['p99']:.2f} ms"

    def failures(key):
        return lambda r: f"{r[key]['non2xx']:.0f} of {r[key]['requests']:.0f}"

    row("`/health`, 64 conns: req/s · p50 · p99", throughput("health"))
    row("`/api/auth/me`, 64 conns: req/s · p50 · p99", throughput("me"))
    row("session check ÷ health", lambda r: f"{r['me']['rps'] / r['health']['rps']:.2f}")
    row("forward-auth `/api/authz/auth-request`, 64 conns: req/s · p50 · p99", throughput("forward_auth"))
    row("forward-auth ÷ health", lambda r: f"{r['forward_auth']['rps'] / r['health']['rps']:.2f}")
    def per_request(key):
        def cell(r):
            if "db_transactions" not in r[key]:
                return "n/a (SQLite counts none)"
            n, requests = r[key]["db_transactions"], r[key]["requests_total"]
            return f"{n / requests:.5f} ({n:,} in {requests:,.0f} requests)"
        return cell

    row("forward-auth with an API key (`X-API-Key`), 64 conns: req/s · p50 · p99", throughput("key_gate"))
    row("forward-auth with an API key ÷ health", lambda r: f"{r['key_gate']['rps'] / r['health']['rps']:.2f}")
    row("forward-auth with an API key: database transactions per request (the view's own reads too)", per_request("key_gate"))
    row("user lookup `/api/users/{id}` with an API key, 64 conns: req/s · p50 · p99", throughput("key_lookup"))
    row("user lookup: database transactions per request (1 is the user's own row)", per_request("key_lookup"))
    row("`/oauth2/token` client credentials, 4 conns: tokens/s · p50 · p99", throughput("token"))
    row("`/oauth2/token` non-2xx", failures("token"))
    row("`/oauth2/token` token exchange (a person's token for their agent), 4 conns: /s · p50 · p99", throughput("exchange"))
    row("token exchange non-2xx", failures("exchange"))
    row("one Argon2id hash (`portcullis hash-timing`)", lambda r: f"{r['hash_ms']:.1f} ms")
    row("one Argon2id hash, @node-rs/argon2, same core", lambda r: f"{r['node_hash_ms']:.1f} ms")
    row("our hash ÷ @node-rs/argon2's", lambda r: f"{r['hash_ms'] / r['node_hash_ms']:.2f}")
    def sign_ins(key):
        return lambda r: f"{r[key]['rps']:.1f} · {r[key]['p50']:.1f} ms · {r[key]['p99']:.1f} ms"

    row(f"sign-in, {2 * cores} conns: /s · p50 · p99", sign_ins("login"))
    row("sign-ins ÷ hashing limit (each run against a hash timed just before and after it)",
        lambda r: f"{r['login']['limit_ratio']:.2f}")
    row(f"sign-in, {cores} conn(s), not overloaded: /s · p50 · p99", sign_ins("login_paced"))
    row("sign-in p99 (not overloaded) ÷ one hash", lambda r: f"{r['login_paced']['p99'] / r['hash_ms']:.2f}")
    row(f"refresh, {REFRESH_CONNECTIONS} conns: /s · p50 · p99", throughput("refresh"))
    row("refresh non-2xx", failures("refresh"))
    row("refresh, 64 conns (overload): /s · p50 · p99", throughput("refresh_64"))
    row("refresh, 64 conns: non-2xx", failures("refresh_64"))
    row("sign-up, 2 conns: /s · non-2xx · socket errors", lambda r: f"{r['signup']['rps']:.1f} · {r['signup']['non2xx']:.0f} · {r['signup']['socket_errors']:.0f}")
    row("sign-ups ÷ hashing limit (likewise)", lambda r: f"{r['signup']['limit_ratio']:.2f}")
    row("page `/login` (signed out), 16 conns: /s", lambda r: f"{r['page_login']['rps']:.0f}")
    row("page `/account` (signed in), 16 conns: /s", lambda r: f"{r['page_account']['rps']:.0f}")
    row("memory idle (RSS)", lambda r: f"{r['idle_rss_mib']:.1f} MiB")
    row("flood, 200 conns: 2xx · other · p50 · p99", lambda r: f"{r['flood']['requests'] - r['flood']['non2xx']:.0f} · {r['flood']['non2xx']:.0f} · {r['flood']['p50']:.1f} ms · {r['flood']['p99']:.1f} ms")
    row("memory peak (VmHWM) after flood", lambda r: f"{r['peak_rss_mib']:.1f} MiB")
    row(f"memory after the flood, at rest ({HASH_MEMORY_RELEASE_SECS} s unused)", lambda r: f"{r['rest_rss_mib']:.1f} MiB")

    timing = verify_timing()
    if timing:
        lines += ["", "Access-token check with `portcullis-verify` (`portcullis verify-timing`, server core): "
                  + ", ".join(f"{alg} {micros:.1f} µs" for alg, micros in timing) + "."]
    lines += ["", "| WASM part | raw | gzip -9 | brotli -q 11 |", "| --- | --- | --- | --- |"]
    for part in wasm:
        lines.append(f"| `{part['name']}` | {part['raw']:,} B | {part['gzip']:,} B | {part['brotli']:,} B |")
    visit = next((r["visit"] for r in results if "visit" in r), None)
    if visit:
        lines += [
            "",
            f"First visit to `/login` (Chromium, cold cache): {visit['first']['requests']} requests, "
            f"{visit['first']['bytes']:,} B over the network (encodings: {', '.join(visit['encodings']) or 'none'}); "
            f"again with the cache it filled: {visit['repeat']['network_requests']} of {visit['repeat']['requests']} "
            f"requests went to the network, {visit['repeat']['bytes']:,} B. "
            f"The bundle it fetched ({', '.join(f'`{p}`' for p in visit['pkg_requests'])}) is "
            f"{visit['bundle_gzip']:,} B as gzip.",
        ]
    lines += ["", "## Budgets", ""]
    argon_mib = int(os.environ.get("PORTCULLIS_ARGON2_MEMORY_KIB", "19456")) / 1024
    for r in results:
        b = r["backend"]
        refresh_floor = 3000 if b == "SQLite" else 1000
        budgets = [
            lambda: f"- {b}: session check ≥ 0.8× health ({r['me']['rps'] / r['health']['rps']:.2f}) {verdict(r['me']['rps'] >= 0.8 * r['health']['rps'])}; "
            f"p99 < 5 ms ({r['me']['p99']:.2f} ms) {verdict(r['me']['p99'] < 5)}",
            lambda: f"- {b}: forward-auth ≥ 0.8× health ({r['forward_auth']['rps'] / r['health']['rps']:.2f}) "
            f"{verdict(r['forward_auth']['rps'] >= 0.8 * r['health']['rps'])}; "
            f"p99 < 2 ms ({r['forward_auth']['p99']:.2f} ms) {verdict(r['forward_auth']['p99'] < 2)}",
            lambda: f"- {b}: one hash ≤ 1.1× @node-rs/argon2's ({r['hash_ms']:.1f} ms vs {r['node_hash_ms']:.1f} ms) "
            f"{verdict(r['hash_ms'] <= 1.1 * r['node_hash_ms'])}",
            lambda: f"- {b}: sign-ins ≥ 0.9× hashing limit ({r['login']['limit_ratio']:.2f}: "
            f"{r['login']['rps']:.1f}/s vs {cores * 1000 / r['login']['yardstick_ms']:.1f}/s) "
            f"{verdict(r['login']['limit_ratio'] >= 0.9)}; "
            f"p99 not overloaded ≤ 3× one hash ({r['login_paced']['p99']:.1f} ms vs {3 * r['hash_ms']:.1f} ms) "
            f"{verdict(r['login_paced']['p99'] <= 3 * r['hash_ms'])}",
            lambda: f"- {b}: refresh ≥ {refresh_floor}/s ({r['refresh']['rps']:.0f}/s) {verdict(r['refresh']['rps'] >= refresh_floor)}; "
            f"p99 < 10 ms ({r['refresh']['p99']:.2f} ms) {verdict(r['refresh']['p99'] < 10)}; "
            f"all answered 200 ({r['refresh']['non2xx'] + r['refresh_64']['non2xx']:.0f} not) "
            f"{verdict(r['refresh']['non2xx'] + r['refresh_64']['non2xx'] == 0)}",
            lambda: f"- {b}: idle memory < 30 MB ({r['idle_rss_mib']:.1f} MiB) {verdict(r['idle_rss_mib'] * 1.048576 < 30)}",
            lambda: f"- {b}: flood peak < idle + {cores} × {argon_mib:.0f} MiB + 50 MB "
            f"({r['peak_rss_mib']:.1f} MiB vs {r['idle_rss_mib'] + cores * argon_mib + 50:.1f} MiB) "
            f"{verdict(r['peak_rss_mib'] < r['idle_rss_mib'] + cores * argon_mib + 50)}",
        ]
        for budget in budgets:
            try:
                lines.append(budget())
            except KeyError:
                pass
    if visit:
        lines.append(f"- bundle a signed-out visitor fetches ≤ 250 KB gzip ({visit['bundle_gzip'] / 1000:.0f} KB) "
                     f"{verdict(visit['bundle_gzip'] <= 250_000)}")
    for r in results:
        if r.get("waits") is None:
            continue
        lines += [
            "",
            f"## What {r['backend']}'s sessions waited on",
            "",
            "Sampled from `pg_stat_activity` five times a second; shares of the sessions seen active "
            "(`CPU`: running; `WALSync`/`WALWrite`: committing; `transactionid`/`tuple`: row locks).",
            "",
        ]
        for scenario, (start, end) in r["spans"].items():
            lines.append(f"- {scenario}: {top_waits(r['waits'], start, end)}")
    return "\n".join(lines) + "\n"


class DatabaseOffTheServerCore:
    """While the PostgreSQL part runs, PostgreSQL's processes run on the
    load core, so the server's core is the server's alone, as it is when
    the database has its own machine; otherwise backends, the WAL writer
    and the checkpointer take turns on the server's core, and /health's
    own p99 shows it. New backends inherit the postmaster's cores. The
    cores are given back afterwards. BENCH_PIN_DATABASE=0 leaves them.
    Needs the right to change those processes' affinity (root here); a
    database on another machine has no local processes and is left be."""

    def __init__(self):
        self.original = None
        self.moved = 0
        if os.environ.get("BENCH_PIN_DATABASE", "1") == "0":
            return
        pids = self.pids()
        if not pids:
            return
        try:
            self.original = os.sched_getaffinity(min(pids))
        except OSError:
            return
        for pid in pids:
            try:
                os.sched_setaffinity(pid, {int(LOAD_CORE)})
                self.moved += 1
            except OSError:
                pass

    @staticmethod
    def pids() -> list:
        found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split()]

    def describe(self) -> str:
        if self.moved:
            return f"PostgreSQL's processes ran on core {LOAD_CORE} (the load's) during its part."
        return "PostgreSQL's processes were not moved off the server's core."

    def restore(self) -> None:
        if not self.original:
            return
        for pid in self.pids():
            try:
                os.sched_setaffinity(pid, self.original)
            except OSError:
                pass


def create_pg_database() -> tuple:
    name = f"portcullis_bench_{os.getpid()}"
    subprocess.run(["psql", PG_ADMIN, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True)
    parsed = urllib.parse.urlsplit(PG_ADMIN)
    return name, urllib.parse.urlunsplit(parsed._replace(path="/" + name))


def drop_pg_database(name: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


def main() -> None:
    for needed in (BINARY, PKG, NODE_ARGON2):
        if not os.path.exists(needed):
            sys.exit(f"bench: {needed} is missing; `make bench` builds or installs it")
    cores = SERVER_CORES
    results = []
    if "sqlite" in BACKENDS:
        with tempfile.TemporaryDirectory(prefix="portcullis-bench-") as data:
            results.append(bench_backend("SQLite", f"sqlite://{data}/bench.db"))
    placement = None
    if "postgres" in BACKENDS:
        name, url = create_pg_database()
        placement = DatabaseOffTheServerCore()
        try:
            results.append(bench_backend("PostgreSQL", url))
        finally:
            placement.restore()
            drop_pg_database(name)
    text = report(results, wasm_sizes(), cores, placement.describe() if placement else "")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"{datetime.datetime.now():%Y%m%d-%H%M%S}.md")
    with open(path, "w") as out:
        out.write(text)
    print(text)
    print(f"(written to {os.path.relpath(path, ROOT)})")


if __name__ == "__main__":
    main()
