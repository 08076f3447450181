import { test, expect, type Browser, type Page } from "@playwright/test";
import { createAccount, gotoHydrated, signIn, uniqueEmail } from "./support";

const FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0";
const EDGE_WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0";

/** Signs `email` in from another browser, as another device would. */
async function signInElsewhere(browser: Browser, email: string, userAgent: string): Promise<Page> {
  const context = await browser.newContext({ userAgent });
  const page = await context.newPage();
  await gotoHydrated(page, "/login");
  await signIn(page, email);
  await expect(page).toHaveURL(/\/$/);
  return page;
}

test("the account page lists sessions and signs another device out", async ({ page, request, browser }) => {
  const email = uniqueEmail("sessions");
  await createAccount(request, email, "Many Devices");
  const laptop = await signInElsewhere(browser, email, FIREFOX_MAC);

  await gotoHydrated(page, "/login?next=/account");
  await signIn(page, email);
  await expect(page).toHaveURL(/\/account$/);

  const sessions = page.getByTestId("sessions");
  const rows = sessions.locator("li.session");
  await expect(rows).toHaveCount(2);
  const current = sessions.locator('li.session[data-current="true"]');
  await expect(current).toContainText("This device");
  await expect(current.getByRole("button")).toHaveCount(0);
  await expect(sessions).toContainText("Firefox on macOS");

  await sessions.getByRole("button", { name: "Sign out Firefox on macOS" }).click();
  await expect(sessions.getByRole("status")).toHaveText("Signed out Firefox on macOS.");
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId("activity")).toContainText("Session signed out from this page");

  // The laptop's session is gone at once, though its access token has not expired.
  await laptop.goto("/account");
  await expect(laptop).toHaveURL(/\/login\?next=\/account$/);

  // A fresh load of the page (server-rendered, then hydrated) lists the one left.
  await gotoHydrated(page, "/account");
  await expect(page.getByTestId("sessions").locator("li.session")).toHaveCount(1);
});

test("sign out everywhere else keeps only this session; activity shows what happened", async ({ page, request, browser }) => {
  const email = uniqueEmail("others");
  await createAccount(request, email, "Elsewhere");
  await signInElsewhere(browser, email, FIREFOX_MAC);
  await signInElsewhere(browser, email, EDGE_WINDOWS);

  await gotoHydrated(page, "/login?next=/account");
  // A failed attempt first: it must show up in the activity list.
  await signIn(page, email, "not-my-password-at-all");
  await expect(page.getByRole("alert")).toContainText("not correct");
  await signIn(page, email);
  await expect(page).toHaveURL(/\/account$/);

  const sessions = page.getByTestId("sessions");
  await expect(sessions.locator("li.session")).toHaveCount(3);
  await sessions.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(sessions.getByRole("status")).toHaveText("Signed out everywhere else.");
  await expect(sessions.locator("li.session")).toHaveCount(1);
  await expect(sessions.getByRole("button", { name: "Sign out everywhere else" })).toHaveCount(0);

  const activity = page.getByTestId("activity").locator("li.activity");
  // Newest first: the revocation, this sign-in, the failure, two sign-ins, the sign-up.
  await expect(activity.first()).toHaveAttribute("data-event", "session_revoked");
  await expect(activity.nth(1)).toContainText("Signed in");
  await expect(activity.nth(2)).toContainText("Failed sign-in attempt");
  await expect(activity.last()).toContainText("Account created");
});
