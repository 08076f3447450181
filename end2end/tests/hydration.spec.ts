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
