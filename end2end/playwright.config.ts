import { defineConfig, devices } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";

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

// The gateway test (tests/gateway.spec.ts): nginx in front of a Portcullis
// at auth.example.test and the example downstream service at
// app.example.test, both names mapped to 127.0.0.1 in the browser.
const gatewayAuthPort = port + 2;
const downstreamPort = port + 3;
const nginxPort = port + 4;
const authOrigin = `http://auth.example.test:${nginxPort}`;
process.env.PORTCULLIS_E2E_AUTH_ORIGIN = authOrigin;
process.env.PORTCULLIS_E2E_APP_ORIGIN = `http://app.example.test:${nginxPort}`;
process.env.PORTCULLIS_E2E_DOWNSTREAM_URL = `http://127.0.0.1:${downstreamPort}`;
const downstreamBinary = process.env.DOWNSTREAM_BIN ?? path.join(targetDir, "debug", "examples", "downstream");
// EdDSA, so the downstream service verifies with the published keys.
const signingKey = execFileSync(binary, ["generate-key"], { encoding: "utf8" })
  .split("\n")
  .find((line) => line.startsWith("PORTCULLIS_JWT_SIGNING_KEY="))!
  .split("=")[1];
const nginxConf = writeNginxConf();

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
        "--host-resolver-rules=MAP *.example.test 127.0.0.1",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: [
    server(port, "portcullis.db", { PORTCULLIS_BOOTSTRAP_ADMIN: ADMIN_EMAIL }),
    server(shortTtlPort, "short-ttl.db", { PORTCULLIS_ACCESS_TOKEN_TTL_SECS: "4" }),
    server(gatewayAuthPort, "gateway.db", {
      PORTCULLIS_PUBLIC_URL: authOrigin,
      PORTCULLIS_COOKIE_DOMAIN: "example.test",
      PORTCULLIS_ALLOWED_RETURN_HOSTS: "app.example.test",
      PORTCULLIS_TRUSTED_PROXIES: "127.0.0.1",
      PORTCULLIS_JWT_ALGORITHM: "EdDSA",
      PORTCULLIS_JWT_SIGNING_KEY: signingKey,
    }),
    {
      command: downstreamBinary,
      url: `http://127.0.0.1:${downstreamPort}/`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "ignore" as const,
      stderr: "pipe" as const,
      env: {
        PORTCULLIS_URL: authOrigin,
        PORTCULLIS_JWKS_URL: `http://127.0.0.1:${gatewayAuthPort}/.well-known/jwks.json`,
        DOWNSTREAM_HOST: "app.example.test",
        DOWNSTREAM_ADDR: `127.0.0.1:${downstreamPort}`,
      },
    },
    {
      command: `nginx -p ${dataDir} -c ${nginxConf} -g "daemon off;"`,
      url: `http://127.0.0.1:${nginxPort}/nginx-health`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: "ignore" as const,
      stderr: "pipe" as const,
    },
  ],
});

/** nginx's main configuration around the documented includes
 * (docs/gateway/*.conf), which are used exactly as users see them. */
function writeNginxConf(): string {
  const docs = path.resolve(__dirname, "../docs/gateway");
  const conf = path.join(dataDir, "nginx.conf");
  fs.writeFileSync(
    conf,
    `
user root;
worker_processes 1;
pid ${dataDir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  proxy_max_temp_file_size 0;
  client_body_temp_path ${dataDir}/client_body;
  proxy_temp_path ${dataDir}/proxy;
  fastcgi_temp_path ${dataDir}/fastcgi;
  uwsgi_temp_path ${dataDir}/uwsgi;
  scgi_temp_path ${dataDir}/scgi;
  upstream portcullis { server 127.0.0.1:${gatewayAuthPort}; }
  upstream app { server 127.0.0.1:${downstreamPort}; }
  server {
    listen 127.0.0.1:${nginxPort} default_server;
    location = /nginx-health { return 200 "ok"; }
  }
  server {
    listen 127.0.0.1:${nginxPort};
    server_name auth.example.test;
    # Forward-auth is for nginx itself, through the upstream, never for
    # the public: a client could describe any request it likes.
    location /api/authz/ { return 404; }
    location / {
      proxy_pass http://portcullis;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
  server {
    listen 127.0.0.1:${nginxPort};
    server_name app.example.test;
    include ${docs}/portcullis-auth.conf;
    location / {
      include ${docs}/protect.conf;
      proxy_pass http://app;
    }
  }
}
`,
  );
  return conf;
}

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
