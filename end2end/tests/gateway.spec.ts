import { expect, test } from "@playwright/test";
import { PASSWORD, uniqueEmail } from "./support";

// nginx (docs/gateway/*.conf, as users include them) in front of Portcullis
// at auth.example.test and the example downstream service at
// app.example.test; see playwright.config.ts.
const AUTH = process.env.PORTCULLIS_E2E_AUTH_ORIGIN!;
const APP = process.env.PORTCULLIS_E2E_APP_ORIGIN!;
const PROTECTED = `${APP}/gate?tab=1`;

async function signUpThroughTheGate(page: import("@playwright/test").Page, email: string) {
  // Signed out, the service sends the browser to sign in, with the way back.
  await page.goto(PROTECTED);
  await expect(page).toHaveURL(new RegExp(`^${AUTH}/login\\?rd=`));
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await page.getByRole("link", { name: "Create an account" }).click();
  await expect(page).toHaveURL(new RegExp(`^${AUTH}/signup\\?next=`));
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
}

test("a visitor signs in through the gateway and lands back on the service", async ({ page }) => {
  const email = uniqueEmail("gate");
  await signUpThroughTheGate(page, email);
  // Back where they started, named by the identity header nginx passed on.
  await expect(page).toHaveURL(PROTECTED);
  await expect(page.locator("#email")).toHaveText(email);

  // Signing out on Portcullis closes the gate at once.
  await page.goto(`${AUTH}/account`);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await expect(page).toHaveURL(`${AUTH}/`);
  await page.goto(PROTECTED);
  await expect(page).toHaveURL(new RegExp(`^${AUTH}/login\\?rd=`));

  // Signing in again returns to the service.
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(PROTECTED);
  await expect(page.locator("#email")).toHaveText(email);
});

test("a lapsed access token is renewed on the way through, with nothing to type", async ({ page, context }) => {
  const email = uniqueEmail("lapsed");
  await signUpThroughTheGate(page, email);
  await expect(page.locator("#email")).toHaveText(email);
  // The access cookie runs out; the session (the refresh cookie, on the
  // auth host only) is alive.
  await context.clearCookies({ name: "portcullis_access" });
  const names = (await context.cookies()).map((c) => c.name);
  expect(names).toContain("portcullis_refresh");
  await page.goto(PROTECTED);
  // Through the sign-in page, which renews the session, and straight back.
  await expect(page).toHaveURL(PROTECTED);
  await expect(page.locator("#email")).toHaveText(email);
});

test("a request straight to the service, around the gateway, is refused", async ({ request }) => {
  // The downstream service believes identity headers only with a valid
  // assertion: made-up headers alone get nothing.
  const downstream = process.env.PORTCULLIS_E2E_DOWNSTREAM_URL!;
  const response = await request.get(`${downstream}/gate`, {
    headers: { "X-Auth-Request-Email": "admin@example.com" },
  });
  expect(response.status()).toBe(401);
});
