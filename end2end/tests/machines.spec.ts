import { test, expect, type Page } from "@playwright/test";
import { ADMIN_EMAIL, createAccount, ensureAdmin, gotoHydrated, signedIn, uniqueEmail } from "./support";

// The key format of issue 18: secret scanners look for exactly this.
const PERSONAL_KEY = /^pcl_pk_[0-9A-Za-z]{49}$/;
const SERVICE_KEY = /^pcl_sk_[0-9A-Za-z]{49}$/;

/** Errors and warnings the page logs (a failed hydration says so there). */
function complaints(page: Page): string[] {
  const seen: string[] = [];
  page.on("pageerror", (e) => seen.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") seen.push(m.text());
  });
  return seen;
}

test("an API key made on the account page works from a plain HTTP client until it is revoked there", async ({
  context,
  page,
  request,
}) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const logged = complaints(page);
  await ensureAdmin(request);
  await signedIn(page, ADMIN_EMAIL);
  await gotoHydrated(page, "/account");

  const panel = page.getByTestId("api-keys");
  const name = `e2e lookup ${Date.now() % 100000}`;
  await panel.getByLabel("What it is for").fill(name);
  await panel.getByLabel("users:read").check();
  await expect(panel.getByLabel("Expires after (days)")).toHaveValue("90");
  await expect(panel.getByText("administrators only; not recommended")).toBeVisible();
  await panel.getByRole("button", { name: "Create key" }).click();

  const shown = panel.getByTestId("new-key");
  await expect(shown).toBeVisible();
  const key = await shown.inputValue();
  expect(key).toMatch(PERSONAL_KEY);
  await panel.getByRole("button", { name: "Copy", exact: true }).click();
  await expect(panel.getByText("Copied.")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  const row = panel.getByTestId(`key-${key.slice(0, 12)}`);
  await expect(row).toContainText(name);
  await expect(row).toContainText("users:read");
  await expect(row.getByTestId("key-last-used")).toHaveText("never");

  // A plain HTTP client with nothing but the key: no cookie, no CSRF token.
  const headers = { "X-API-Key": key };
  const found = await request.get(`/api/users?email=${encodeURIComponent(ADMIN_EMAIL)}`, { headers });
  expect(found.status()).toBe(200);
  const { id } = await found.json();
  const user = await request.get(`/api/users/${id}`, { headers });
  expect(user.status()).toBe(200);
  expect((await user.json()).email).toBe(ADMIN_EMAIL);

  // Shown once: a new page load has its prefix and its last use, never the key.
  await gotoHydrated(page, "/account");
  await expect(row.getByTestId("key-last-used")).toContainText("127.0.0.1");
  await expect(panel.getByTestId("new-key")).toHaveCount(0);
  expect(await page.content()).not.toContain(key);

  await row.getByRole("button", { name: `Revoke key ${name}` }).click();
  await expect(panel.getByRole("status").filter({ hasText: `Revoked “${name}”.` })).toBeVisible();
  await expect(row).toHaveCount(0);

  const after = await request.get(`/api/users/${id}`, { headers });
  expect(after.status()).toBe(401);
  expect(logged).toEqual([]);
});

test("an admin registers an agent in the console, sees its key once, and disables it", async ({ page, request }) => {
  const logged = complaints(page);
  await ensureAdmin(request);
  await signedIn(page, ADMIN_EMAIL);
  await gotoHydrated(page, "/admin");
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Service accounts and agents" }).click();
  await expect(page).toHaveURL(/\/admin\/agents$/);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();

  const form = page.getByTestId("register-agent");
  const name = `e2e-agent-${Date.now() % 100000}`;
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Kind").selectOption("service");
  await form.getByLabel("Description").fill("Fetches users for the TMS");
  await form.getByLabel("users:read").check();
  await form.getByRole("button", { name: "Register" }).click();

  const shown = form.getByTestId("new-key");
  await expect(shown).toBeVisible();
  const key = await shown.inputValue();
  expect(key).toMatch(SERVICE_KEY);
  const agent = page.getByTestId(`agent-${name}`);
  await expect(agent).toContainText("service");
  await expect(agent).toContainText(ADMIN_EMAIL);

  const token = await request.post("/api/agents/token", { headers: { "X-API-Key": key } });
  expect(token.status()).toBe(200);

  await form.getByRole("button", { name: "I have copied it" }).click();
  await expect(page.getByTestId("new-key")).toHaveCount(0);

  await agent.getByRole("button", { name: "Disable", exact: true }).click();
  await expect(agent.getByTestId("agent-disabled")).toBeVisible();
  await expect(agent.getByRole("button", { name: "Enable", exact: true })).toBeVisible();
  const refused = await request.post("/api/agents/token", { headers: { "X-API-Key": key } });
  expect(refused.status()).toBe(401);

  await page.setViewportSize({ width: 360, height: 800 });
  await gotoHydrated(page, "/admin/agents");
  await expect(page.getByTestId(`agent-${name}`)).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  expect(logged).toEqual([]);
});

test("a user who manages no agents reaches their own from the account page, not the console's", async ({
  page,
  request,
}) => {
  const email = uniqueEmail("owner");
  await createAccount(request, email, "Agent Owner");
  await signedIn(page, email);
  await gotoHydrated(page, "/account");
  await page.getByRole("link", { name: "Manage your service accounts and agents" }).click();
  await expect(page).toHaveURL(/\/account\/agents$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your service accounts and agents");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId("no-agents")).toBeVisible();

  const console = await page.goto("/admin/agents");
  expect(console?.status()).toBe(403);
});
