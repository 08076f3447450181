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

  // A lazy island, whose part of the bundle loads when the page shows it.
  await page.goto("/signup");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create an account");

  expect(violations).toEqual([]);
});

test("a link loads the next page from the server, whose islands hydrate without a complaint", async ({ page }) => {
  // Pages are rendered on the server; only their islands run in the browser.
  const complaints: string[] = [];
  page.on("pageerror", (e) => complaints.push(e.message));
  page.on("console", (m) => {
    // The missing page's own 404 is what it should be.
    const ownStatus = m.location().url.endsWith("/no-such-page");
    if ((m.type() === "error" || m.type() === "warning") && !ownStatus) complaints.push(m.text());
  });
  await gotoHydrated(page, "/no-such-page");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");

  await page.getByRole("link", { name: "Portcullis" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign-in that stays on your servers");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();

  await page.getByRole("link", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel("Password", { exact: true }).fill("short");
  await page.getByLabel("Password", { exact: true }).blur();
  await expect(page.locator("#password-error")).toHaveText(/at least 12 characters/);
  expect(complaints).toEqual([]);
});

test("the sign-in page fetches only the main part of the bundle; the sign-up page adds its own", async ({ page }) => {
  const wasm: string[] = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith(".wasm") && r.ok()) wasm.push(path);
  });
  await gotoHydrated(page, "/login");
  await page.waitForLoadState("networkidle");
  expect(wasm).toHaveLength(1);
  const main = wasm[0];
  expect(main).toMatch(/^\/pkg\/portcullis\.[^.]+\.wasm$/);

  // A plain page load: the main part again (from the cache), and the
  // sign-up form's island in a part of its own.
  wasm.length = 0;
  await page.getByRole("link", { name: "Create an account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create an account");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  expect(wasm).toContain(main);
  expect(wasm.some((p) => p.includes("signup_form"))).toBe(true);
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
