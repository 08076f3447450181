import { test, expect, type APIRequestContext, type Page } from "@playwright/test";
import { createAccount, gotoHydrated, PASSWORD, signIn, uniqueEmail } from "./support";

// playwright.config.ts makes this account an administrator on sign-up.
const ADMIN = "e2e-admin@example.com";

const nav = (page: Page) => page.getByRole("navigation", { name: "Main" });

async function ensureAdmin(request: APIRequestContext): Promise<void> {
  const response = await request.post("/api/auth/signup", {
    data: { email: ADMIN, password: PASSWORD, display_name: "Console Admin" },
  });
  expect([201, 409]).toContain(response.status());
  await request.post("/api/auth/logout");
}

async function signedIn(page: Page, email: string): Promise<void> {
  await gotoHydrated(page, "/login");
  await signIn(page, email);
  await expect(page.getByTestId("nav-account")).toBeVisible();
}

test("an admin finds a user and disables them; the user's open browser is signed out on its next action", async ({
  browser,
  request,
}) => {
  await ensureAdmin(request);
  const email = uniqueEmail("victim");
  await createAccount(request, email, "Vic Tim");

  const userPage = await (await browser.newContext()).newPage();
  await signedIn(userPage, email);
  await gotoHydrated(userPage, "/account");

  const adminPage = await (await browser.newContext()).newPage();
  await signedIn(adminPage, ADMIN);
  await nav(adminPage).getByRole("link", { name: "Admin", exact: true }).click();
  await expect(adminPage).toHaveURL(/\/admin$/);
  await adminPage.getByLabel("Email or name begins with").fill(email.split("@")[0]);
  await adminPage.getByRole("button", { name: "Search" }).click();
  const found = adminPage.getByTestId("admin-users").getByRole("link");
  await expect(found).toHaveCount(1);
  await found.click();
  await expect(adminPage.getByTestId("admin-user-email")).toHaveText(email);
  await expect(adminPage.locator('.app[data-hydrated="true"]')).toBeVisible();
  await adminPage.getByRole("button", { name: "Disable user" }).click();
  await expect(adminPage.getByTestId("admin-user-status")).toHaveText("Disabled");

  // The user's page is still open; their next action finds them signed out.
  await userPage.getByLabel("Name").fill("Still Here");
  await userPage.getByRole("button", { name: "Save", exact: true }).click();
  await expect(nav(userPage).getByRole("link", { name: "Sign in" })).toBeVisible();
  await gotoHydrated(userPage, "/account");
  await expect(userPage).toHaveURL(/\/login/);
});

test("a signed-in user who is not an admin gets a real 403 at /admin and no Admin link", async ({ page, request }) => {
  const email = uniqueEmail("plain");
  await createAccount(request, email, "Plain User");
  await signedIn(page, email);
  await expect(nav(page).getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);

  const response = await page.goto("/admin");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
});

test("a signed-out visitor at /admin is sent to sign in", async ({ page }) => {
  await page.goto("/admin/roles");
  await expect(page).toHaveURL(/\/login\?next=\/admin\/roles$/);
});

test("the console's read views work without JavaScript", async ({ browser, request }) => {
  await ensureAdmin(request);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/login");
  await signIn(page, ADMIN);
  await expect(page.getByTestId("nav-account")).toBeVisible();
  for (const [path, heading] of [
    ["/admin", "Users"],
    ["/admin/roles", "Roles"],
    ["/admin/audit", "Audit log"],
  ]) {
    const response = await page.goto(path);
    expect(response?.status()).toBe(200);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
  }
  await page.goto("/admin/audit?outcome=success");
  await expect(page.getByTestId("admin-audit").locator("li").first()).toContainText("success");
});

test("deleting one's own account asks for the password and a tick, then signs out", async ({ page, request }) => {
  const email = uniqueEmail("leaver");
  await createAccount(request, email, "Leaver");
  await signedIn(page, email);
  await gotoHydrated(page, "/account");

  const panel = page.locator("section", { has: page.getByRole("heading", { name: "Delete account" }) });
  await panel.getByLabel("Current password").fill(PASSWORD);
  await panel.getByLabel("Yes, delete my account").check();
  await panel.getByRole("button", { name: "Delete account" }).click();
  await expect(nav(page).getByRole("link", { name: "Sign in" })).toBeVisible();

  const again = await request.post("/api/auth/login", { data: { email, password: PASSWORD } });
  expect(again.status()).toBe(401);
});

test("an admin creates a role, gives it a permission, then deletes it; the console fits 360 px", async ({
  page,
  request,
}) => {
  await ensureAdmin(request);
  await signedIn(page, ADMIN);
  await gotoHydrated(page, "/admin/roles");
  const name = `support${Date.now() % 100000}`;
  const create = page.getByRole("region", { name: "New role" });
  await create.getByLabel("Name (lower case, digits, - and _)").fill(name);
  await create.getByLabel("users:read").check();
  await create.getByRole("button", { name: "Create role" }).click();

  const role = page.getByTestId(`role-${name}`);
  await expect(role).toContainText("users:read");
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await role.getByLabel("audit:read").check();
  await role.getByRole("button", { name: "Save role" }).click();
  await expect(page.getByTestId(`role-${name}`).locator(".badges")).toContainText("audit:read");

  for (const path of ["/admin", "/admin/roles", "/admin/audit"]) {
    await page.setViewportSize({ width: 360, height: 800 });
    await gotoHydrated(page, path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `screenshots/admin${path.replace(/\//g, "-")}-360.png`, fullPage: true });
  }

  await page.setViewportSize({ width: 1280, height: 900 });
  await gotoHydrated(page, "/admin/roles");
  await page.getByTestId(`role-${name}`).getByRole("button", { name: "Delete role" }).click();
  await expect(page.getByTestId(`role-${name}`)).toHaveCount(0);
});
