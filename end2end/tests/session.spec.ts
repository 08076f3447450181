import { test, expect } from "@playwright/test";
import { gotoHydrated, PASSWORD, shortTtlUrl, uniqueEmail } from "./support";

test.describe("with 4-second access tokens", () => {
  test.use({ baseURL: shortTtlUrl() });

  test("silent refresh keeps the user signed in across expiry", async ({ page }) => {
    const refreshes: number[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/api/auth/ui/refresh")) refreshes.push(r.status());
    });
    await gotoHydrated(page, "/signup");
    await page.getByLabel("Name").fill("Long Stay");
    await page.getByLabel("Email").fill(uniqueEmail("silent"));
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByTestId("signed-in-as")).toBeVisible();

    // Three access-token lifetimes pass.
    await page.waitForTimeout(12_000);

    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    expect(refreshes.every((s) => s === 200)).toBe(true);
    await expect(page.getByTestId("signed-in-as")).toBeVisible();
    const me = await page.request.get("/api/auth/me");
    expect(me.status()).toBe(200);
    await page.reload();
    await expect(page.getByTestId("signed-in-as")).toBeVisible();
  });

  test("a visit after the access token lapsed renews the session", async ({ page, context }) => {
    await gotoHydrated(page, "/signup");
    await page.getByLabel("Email").fill(uniqueEmail("lapsed"));
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByTestId("signed-in-as")).toBeVisible();
    await page.close(); // no tab is left to refresh silently

    const later = await context.newPage();
    await later.waitForTimeout(6_000);
    const left = (await context.cookies()).map((c) => c.name).sort();
    expect(left).toEqual(["portcullis_device", "portcullis_refresh"]);
    await later.goto("/account");

    await expect(later.getByTestId("signed-in-as")).toBeVisible();
    await expect(later).toHaveURL(/\/account$/);
  });

  test("when the refresh fails, the page shows the signed-out state and why", async ({ page, context }) => {
    await gotoHydrated(page, "/signup");
    await page.getByLabel("Email").fill(uniqueEmail("ended"));
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByTestId("signed-in-as")).toBeVisible();

    // The session is revoked behind the page's back (another device signed it out).
    const refresh = (await context.cookies()).find((c) => c.name === "portcullis_refresh");
    expect(refresh).toBeDefined();
    const revoke = await page.request.post("/api/auth/logout");
    expect(revoke.status()).toBe(204);
    await context.addCookies([{ ...refresh!, value: "revoked-elsewhere" }]);

    await expect(page.getByText("Your session has ended. Please sign in again.")).toBeVisible({ timeout: 15_000 });
    await expect(page).toHaveURL(/\/login\?next=\/account$/);
  });
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("sign up, sign out and sign in still work as plain forms", async ({ page }) => {
    const email = uniqueEmail("nojs");
    await page.goto("/signup");
    await page.getByLabel("Name").fill("No Script");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("signed-in-as")).toHaveText(email);

    await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();

    await page.goto("/login");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill("wrong-password-123");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("The email or password is not correct.");

    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Welcome back, No Script");
  });
});
