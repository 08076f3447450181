import { test, expect, type Page } from "@playwright/test";
import { gotoHydrated, PASSWORD, uniqueEmail } from "./support";

// Screenshots for people to look at; end2end/screenshots/ is ignored by git.
const widths = [1280, 375];

async function shoot(page: Page, name: string) {
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `screenshots/${name}-${width}.png`, fullPage: true });
  }
}

test("screenshots of every page", async ({ page }) => {
  for (const [name, path] of [
    ["home", "/"],
    ["login", "/login"],
    ["signup", "/signup"],
    ["not-found", "/no-such-page"],
  ]) {
    await gotoHydrated(page, path);
    await expect(page.locator("body")).toHaveCSS("background-color", "rgb(246, 247, 249)");
    await shoot(page, name);
  }

  await gotoHydrated(page, "/login");
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password", { exact: true }).fill("wrong-password-123");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await shoot(page, "login-error");

  await gotoHydrated(page, "/signup");
  await page.getByLabel("Name").fill("Screen Shot");
  await page.getByLabel("Email").fill(uniqueEmail("shot"));
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("signed-in-as")).toBeVisible();
  await shoot(page, "account");
  await gotoHydrated(page, "/");
  await shoot(page, "home-signed-in");
});

test.describe("dark colour scheme", () => {
  test.use({ colorScheme: "dark" });

  test("screenshots in dark mode", async ({ page }) => {
    for (const [name, path] of [
      ["home", "/"],
      ["login", "/login"],
    ]) {
      await gotoHydrated(page, path);
      // The dark palette is in force (style/main.css: --bg, --text).
      await expect(page.locator("body")).toHaveCSS("background-color", "rgb(17, 20, 24)");
      await expect(page.locator("body")).toHaveCSS("color", "rgb(232, 235, 239)");
      await shoot(page, `${name}-dark`);
    }
  });
});
