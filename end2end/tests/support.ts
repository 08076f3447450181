import { expect, type APIRequestContext, type Page } from "@playwright/test";

export const PASSWORD = "plinth-violet-forage-42";
export const NEW_PASSWORD = "quarry-lantern-mosaic-77";

/** A fresh address per test, so tests never depend on each other. */
export function uniqueEmail(prefix = "user"): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
}

/** Loads `path` and waits until the WASM bundle has hydrated the page:
 * clicks on the server-rendered HTML before that do nothing. */
export async function gotoHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
}

/** Creates an account through the JSON API (not signed in afterwards). */
export async function createAccount(request: APIRequestContext, email: string, displayName = "Test User"): Promise<void> {
  const response = await request.post("/api/auth/signup", {
    data: { email, password: PASSWORD, display_name: displayName },
  });
  expect(response.status()).toBe(201);
  // Keep the browser context signed out: the request shares its cookies.
  await request.post("/api/auth/logout");
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The test server whose access tokens expire after 4 seconds. */
export function shortTtlUrl(): string {
  const url = process.env.PORTCULLIS_E2E_SHORT_TTL_URL;
  if (!url) throw new Error("playwright.config.ts sets PORTCULLIS_E2E_SHORT_TTL_URL");
  return url;
}

/** playwright.config.ts makes this account an administrator on sign-up. */
export const ADMIN_EMAIL = "e2e-admin@example.com";

/** Signs the administrator up unless an earlier test did (not signed in afterwards). */
export async function ensureAdmin(request: APIRequestContext): Promise<void> {
  const response = await request.post("/api/auth/signup", {
    data: { email: ADMIN_EMAIL, password: PASSWORD, display_name: "Console Admin" },
  });
  expect([201, 409]).toContain(response.status());
  await request.post("/api/auth/logout");
}

/** Signs in through the sign-in page and waits for the header to say so. */
export async function signedIn(page: Page, email: string): Promise<void> {
  await gotoHydrated(page, "/login");
  await signIn(page, email);
  await expect(page.getByTestId("nav-account")).toBeVisible();
}
