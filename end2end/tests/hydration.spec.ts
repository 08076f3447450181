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
