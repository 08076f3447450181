import { defineConfig, devices } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";

// The Makefile builds the server and the WASM bundle, then runs this suite.
// Each run gets a fresh SQLite database in a temporary directory.
const port = Number(process.env.PORTCULLIS_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
// A second server whose access tokens live only a few seconds, for the
// silent-refresh test (see tests/support.ts: SHORT_TTL_URL).
const shortTtlPort = port + 1;
process.env.PORTCULLIS_E2E_SHORT_TTL_URL = `http://127.0.0.1:${shortTtlPort}`;
const targetDir = process.env.CARGO_TARGET_DIR ?? path.resolve(__dirname, "../target");
const binary = process.env.PORTCULLIS_BIN ?? path.join(targetDir, "debug", "portcullis");
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? path.join(targetDir, "site");
// Becomes an administrator when it signs up (tests/admin.spec.ts).
const ADMIN_EMAIL = "e2e-admin@example.com";
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-e2e-"));

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: [server(port, "portcullis.db", { PORTCULLIS_BOOTSTRAP_ADMIN: ADMIN_EMAIL }), server(shortTtlPort, "short-ttl.db", { PORTCULLIS_ACCESS_TOKEN_TTL_SECS: "4" })],
});

function server(listenPort: number, database: string, extra: Record<string, string>) {
  return {
    command: binary,
    url: `http://127.0.0.1:${listenPort}/ready`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: {
      PORTCULLIS_LISTEN_ADDR: `127.0.0.1:${listenPort}`,
      DATABASE_URL: `sqlite://${path.join(dataDir, database)}`,
      LEPTOS_SITE_ROOT: siteRoot,
      RUST_LOG: "warn",
      // Every test signs up from 127.0.0.1; the per-address sign-up limit
      // (tested in the Rust suite) would otherwise stop the run part-way.
      PORTCULLIS_SIGNUP_LIMIT_PER_HOUR: "100000",
      ...extra,
    },
  };
}
