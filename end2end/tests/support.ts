import { expect, type Page } from "@playwright/test";

/** Loads `path` and waits until the WASM bundle has hydrated the page:
 * clicks on the server-rendered HTML before that do nothing. */
export async function gotoHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator('.app[data-hydrated="true"]')).toBeVisible();
}
