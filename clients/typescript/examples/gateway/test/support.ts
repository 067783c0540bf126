// Shared by the test files: the addresses run-tests.sh passes, authyd's clients, the browser.
import { mkdirSync } from "node:fs";
import { createAuthydClient } from "@authyd/client";
import { chromium, type Browser, type Page } from "playwright-core";

export function required(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(`${name} is not set: run the tests through run-tests.sh`);
  }
  return v;
}

export const ARTIFACTS = required("ARTIFACTS_DIR");
/** authyd's services; `sandbox` plays the user's phone. */
export const { twoFactor, sandbox } = createAuthydClient({ baseUrl: `http://${required("AUTHYD_GRPC_ADDR")}` });

/** Headless Debian Chromium, with the flags this machine's closed network needs. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves numbered full-page screenshots named `<prefix><nn>-<name>.png`. */
export function screenshots(page: Page, prefix = ""): (name: string) => Promise<void> {
  let n = 0;
  return async (name) => {
    n += 1;
    await page.screenshot({ path: `${ARTIFACTS}/${prefix}${String(n).padStart(2, "0")}-${name}.png`, fullPage: true });
  };
}

/** The page's main text, whitespace collapsed. */
export async function mainText(page: Page): Promise<string> {
  return (await page.locator("main").innerText()).replace(/\s+/g, " ");
}

/** Marks the window, so that a later `notReloaded` tells whether the page was replaced since. */
export async function markWindow(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));
}

export async function notReloaded(page: Page): Promise<boolean> {
  return (await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)) === true;
}

/** Signs up on the gateway at `base` and waits for the account page. */
export async function signUp(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/signup`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.click("button:has-text('Sign up')");
  await page.waitForURL(`${base}/account`);
}

/** Submits the sign-in form on the gateway at `base`. */
export async function signIn(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/signin`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.click("button:has-text('Sign in')");
}

export async function signOut(page: Page, base: string): Promise<void> {
  await page.click("header button:has-text('Sign out')");
  await page.waitForURL(`${base}/signin`);
}
