import { test, expect } from "@playwright/test";
import { gotoHydrated } from "./support";

test("the home page is server-rendered, then hydrated by the WASM bundle", async ({ page, request }) => {
  // The HTML as served: rendered on the server, not yet interactive.
  const html = await (await request.get("/")).text();
  expect(html).toContain("Sign-in that stays on your servers");
  expect(html).toContain('data-hydrated="false"');

  const wasmLoaded = page.waitForResponse((r) => r.url().endsWith(".wasm") && r.ok());
  await gotoHydrated(page, "/");
  await wasmLoaded;

  // Only the WASM bundle's effect can flip this attribute.
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign-in that stays on your servers");
  await expect(page).toHaveTitle("Portcullis");
});

test("the page hydrates under its Content-Security-Policy", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const response = await page.goto("/login");
  const csp = response?.headers()["content-security-policy"] ?? "";
  expect(csp).toContain("'nonce-");
  expect(csp).not.toContain("unsafe-inline");

  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password", { exact: true }).fill("wrong-password-123");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();

  // A lazy route loaded first: its part of the bundle is preloaded.
  await page.goto("/signup");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create an account");

  expect(violations).toEqual([]);
});

test("client-side navigation works after hydration", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await gotoHydrated(page, "/no-such-page");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");

  // The router intercepts this link: no full page load happens.
  let reloaded = false;
  page.on("load", () => (reloaded = true));
  await page.getByRole("link", { name: "Portcullis" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign-in that stays on your servers");
  expect(reloaded).toBe(false);
  expect(errors).toEqual([]);
});

test("the sign-in page fetches only the main part of the bundle; the sign-up page loads its own when shown", async ({ page }) => {
  const wasm: string[] = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith(".wasm") && r.ok()) wasm.push(path);
  });
  await gotoHydrated(page, "/login");
  await page.waitForLoadState("networkidle");
  expect(wasm).toHaveLength(1);

  await page.getByRole("link", { name: "Create an account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create an account");
  expect(wasm.length).toBeGreaterThan(1);
  expect(wasm.slice(1)).not.toContain(wasm[0]);
});

test("the bundle's files are named by their content and cached for good; pages are never stored", async ({ page }) => {
  const pkg: { path: string; cacheControl: string }[] = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/pkg/")) pkg.push({ path, cacheControl: r.headers()["cache-control"] ?? "" });
  });
  const response = await page.goto("/login");
  expect(response?.headers()["cache-control"]).toBe("no-store");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();

  const main = pkg.map((p) => p.path).filter((p) => /^\/pkg\/portcullis\.[^.]+\.(js|wasm|css)$/.test(p));
  expect(main.map((p) => p.split(".").pop()).sort()).toEqual(["css", "js", "wasm"]);
  for (const { path, cacheControl } of pkg) {
    expect(cacheControl, path).toBe("public, max-age=31536000, immutable");
  }
});
