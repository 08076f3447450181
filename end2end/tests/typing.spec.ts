import { test, expect } from "@playwright/test";
import { createAccount, gotoHydrated, NEW_PASSWORD, PASSWORD, signIn, uniqueEmail } from "./support";

// Lazy islands hydrate in page order, each once its part of the bundle has
// loaded; text typed into a form before then must survive its hydration.
test("what is typed into a form before its island hydrates is kept", async ({ page, request }) => {
  const email = uniqueEmail("early");
  await createAccount(request, email, "Early Typist");
  await gotoHydrated(page, "/login");
  await signIn(page, email);
  await expect(page.getByTestId("nav-account")).toBeVisible();

  // Hold back the password form's part of the bundle until the typing is done.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/split_password_form_loader/, async (route) => {
    await held;
    await route.continue();
  });
  await page.goto("/account");
  const form = page.getByRole("region", { name: "Change password" });
  await form.getByLabel("Current password").fill(PASSWORD);
  release();
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
  await expect(form.getByLabel("Current password")).toHaveValue(PASSWORD);

  await form.getByLabel("New password").fill(NEW_PASSWORD);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed.")).toBeVisible();
});
