#!/usr/bin/env python3
"""Does a sign-in take as long for an unknown email as for a wrong password?

Starts the release server with throttling off on a fresh SQLite database,
creates one account, then sends alternating failed sign-ins: an unknown
email, then the real email with a wrong password, N times each. Prints the
medians, the 90th percentiles and the ratio of the medians.

Usage: python3 bench/login_timing.py [attempts-per-kind] (default 200)
Needs the release build: `cargo leptos build --release` (make run does it).
Set TIMING_DATABASE_URL=postgres://... to measure on PostgreSQL instead.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT = 3290
PASSWORD = "plinth-violet-forage-42"


def binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
    return os.path.join(target, "release", "portcullis")


def wait_ready(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit("the server did not become ready")


def post(conn: http.client.HTTPConnection, path: str, body: dict) -> int:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def main() -> None:
    attempts = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    database = os.environ.get("TIMING_DATABASE_URL")
    if not database:
        database = f"sqlite://{tempfile.mkdtemp(prefix='portcullis-timing-')}/timing.db"
    env = dict(
        os.environ,
        PORTCULLIS_LISTEN_ADDR=f"127.0.0.1:{PORT}",
        DATABASE_URL=database,
        PORTCULLIS_THROTTLE="off",
        RUST_LOG="warn",
    )
    server = subprocess.Popen([binary()], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready()
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        email = f"timing-{int(time.time())}@example.com"
        assert post(conn, "/api/auth/signup", {"email": email, "password": PASSWORD}) == 201
        kinds = {
            "unknown email": {"email": "nobody-at-all@example.com", "password": "wrong-password-123"},
            "wrong password": {"email": email, "password": "wrong-password-123"},
        }
        # Warm-up: first requests pay for connection set-up and cold caches.
        for body in list(kinds.values()) * 5:
            post(conn, "/api/auth/login", body)
        times = {kind: [] for kind in kinds}
        for _ in range(attempts):
            for kind, body in kinds.items():
                start = time.perf_counter()
                status = post(conn, "/api/auth/login", body)
                times[kind].append((time.perf_counter() - start) * 1000)
                assert status == 401, f"{kind}: got {status}"
        backend = "PostgreSQL" if database.startswith("postgres") else "SQLite"
        print(f"{attempts} alternating attempts of each kind, throttling off, release build, {backend}")
        medians = {}
        for kind, samples in times.items():
            samples.sort()
            medians[kind] = statistics.median(samples)
            p90 = samples[int(len(samples) * 0.9)]
            print(f"  {kind:15} median {medians[kind]:7.2f} ms   p90 {p90:7.2f} ms   mean {statistics.mean(samples):7.2f} ms")
        ratio = medians["unknown email"] / medians["wrong password"]
        print(f"  ratio of medians (unknown / wrong password): {ratio:.3f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
