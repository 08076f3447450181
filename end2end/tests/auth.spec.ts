import { test, expect } from "@playwright/test";
import { createAccount, gotoHydrated, NEW_PASSWORD, PASSWORD, signIn, uniqueEmail } from "./support";

const nav = (page: import("@playwright/test").Page) => page.getByRole("navigation", { name: "Main" });

test("sign up and land signed in", async ({ page }) => {
  const email = uniqueEmail("signup");
  await gotoHydrated(page, "/signup");

  await page.getByLabel("Name").fill("Ada Lovelace");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("signed-in-as")).toHaveText(email);
  await expect(nav(page).getByRole("link", { name: "Ada Lovelace" })).toBeVisible();
});

test("the sign-up form shows the server's rules before submitting", async ({ page }) => {
  await gotoHydrated(page, "/signup");

  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Email").blur();
  await expect(page.locator("#email-error")).toHaveText(/valid email address/);
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-describedby", /email-error/);

  await page.getByLabel("Password", { exact: true }).fill("short");
  await page.getByLabel("Password", { exact: true }).blur();
  await expect(page.locator("#password-error")).toHaveText(/at least 12 characters/);

  // Common-password rejection runs in the browser too, before any request.
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.getByLabel("Password", { exact: true }).fill("password1234");
  await expect(page.locator("#password-error")).toHaveText(/too easy to guess/);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/signup$/);
  expect(requests.filter((u) => u.includes("/api/"))).toEqual([]);
});

test("the server's refusal is shown when it says no", async ({ page }) => {
  await gotoHydrated(page, "/signup");

  await page.getByLabel("Email").fill(uniqueEmail("weak"));
  // Passes the browser's checks; only the server's zxcvbn knows it is common.
  await page.getByLabel("Password", { exact: true }).fill("starwars1977");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page.getByRole("alert")).toContainText("too easy to guess");
  await expect(page).toHaveURL(/\/signup/);
});

test("sign out, then sign in again", async ({ page, request }) => {
  const email = uniqueEmail("inout");
  await createAccount(request, email, "In Out");
  await gotoHydrated(page, "/login");
  await signIn(page, email);
  await expect(nav(page).getByRole("link", { name: "In Out" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Welcome back, In Out");

  await nav(page).getByRole("button", { name: "Sign out" }).click();

  await expect(nav(page).getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign-in that stays on your servers");
  const me = await page.request.get("/api/auth/me");
  expect(me.status()).toBe(401);
});

test("a wrong password shows the generic message", async ({ page, request }) => {
  const email = uniqueEmail("wrong");
  await createAccount(request, email);
  await gotoHydrated(page, "/login");

  await signIn(page, email, "not-the-password-1");

  await expect(page.getByRole("alert")).toHaveText("The email or password is not correct.");
  await gotoHydrated(page, "/login");
  await signIn(page, uniqueEmail("nobody"), "not-the-password-1");
  await expect(page.getByRole("alert")).toHaveText("The email or password is not correct.");
});

test("a protected page sends you to sign in and back", async ({ page, request }) => {
  const email = uniqueEmail("protected");
  await createAccount(request, email);

  const response = await page.goto("/account");
  expect(response?.request().redirectedFrom()?.url()).toMatch(/\/account$/);
  await expect(page).toHaveURL(/\/login\?next=\/account$/);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();

  await signIn(page, email);

  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("signed-in-as")).toHaveText(email);
});

test("next only accepts local paths", async ({ page, request }) => {
  const email = uniqueEmail("next");
  await createAccount(request, email);
  await gotoHydrated(page, "/login?next=//evil.example/phish");

  await signIn(page, email);

  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test("a display name change survives a reload", async ({ page }) => {
  await signUpThroughTheForm(page, uniqueEmail("rename"), "Before");
  const name = page.getByRole("region", { name: "Profile" }).getByLabel("Name");

  await name.fill("After Rename");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();
  await expect(nav(page).getByRole("link", { name: "After Rename" })).toBeVisible();

  await page.reload();
  await expect(nav(page).getByRole("link", { name: "After Rename" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Profile" }).getByLabel("Name")).toHaveValue("After Rename");
});

test("after a password change the old password no longer works", async ({ page, browser }) => {
  const email = uniqueEmail("pwchange");
  await signUpThroughTheForm(page, email, "Changer");
  const form = page.getByRole("region", { name: "Change password" });

  await form.getByLabel("Current password").fill(PASSWORD);
  await form.getByLabel("New password").fill(NEW_PASSWORD);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed.")).toBeVisible();

  const other = await browser.newPage();
  await gotoHydrated(other, "/login");
  await signIn(other, email, PASSWORD);
  await expect(other.getByRole("alert")).toHaveText("The email or password is not correct.");
  await signIn(other, email, NEW_PASSWORD);
  await expect(other).toHaveURL(/\/$/);
  await expect(other.getByRole("heading", { level: 1 })).toHaveText("Welcome back, Changer");
  await other.close();
});

test("no token is reachable from JavaScript", async ({ page }) => {
  await signUpThroughTheForm(page, uniqueEmail("nojs-token"), "Cookie Check");

  const visible = await page.evaluate(() => ({
    cookie: document.cookie,
    local: JSON.stringify(window.localStorage),
    session: JSON.stringify(window.sessionStorage),
  }));
  expect(visible).toEqual({ cookie: "", local: "{}", session: "{}" });
  const cookies = await page.context().cookies();
  const names = cookies.map((c) => c.name).sort();
  expect(names).toEqual(["portcullis_access", "portcullis_device", "portcullis_refresh"]);
  for (const cookie of cookies) {
    expect(cookie.httpOnly).toBe(true);
  }
  // Nor in what the app's server functions return.
  const body = await (await page.request.get("/api/auth/ui/me", { headers: { accept: "application/json" } })).text();
  for (const cookie of cookies) {
    expect(body).not.toContain(cookie.value);
  }
});

test("signing out in one tab signs out the other", async ({ page, context }) => {
  await signUpThroughTheForm(page, uniqueEmail("tabs"), "Two Tabs");
  const second = await context.newPage();
  await gotoHydrated(second, "/account");
  await expect(second.getByTestId("signed-in-as")).toBeVisible();

  await nav(page).getByRole("button", { name: "Sign out" }).click();
  await expect(nav(page).getByRole("link", { name: "Sign in" })).toBeVisible();

  await expect(nav(second).getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(second).toHaveURL(/\/login\?next=\/account$/);
});

test("signing in works by keyboard alone", async ({ page, request }) => {
  const email = uniqueEmail("keyboard");
  await createAccount(request, email, "Keys Only");
  await gotoHydrated(page, "/login");

  await page.getByLabel("Email").focus();
  await page.keyboard.type(email);
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Password", { exact: true })).toBeFocused();
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Show password" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByLabel("Password", { exact: true })).toHaveAttribute("type", "text");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeFocused();
  await page.keyboard.press("Enter");

  await expect(nav(page).getByRole("link", { name: "Keys Only" })).toBeVisible();
});

async function signUpThroughTheForm(page: import("@playwright/test").Page, email: string, name: string) {
  await gotoHydrated(page, "/signup");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("signed-in-as")).toHaveText(email);
}
