// Drives the page (served by serve.js) in headless Chromium against two sandbox authyds that
// run-tests.sh starts: AUTHYD_URL lists the page's origin in --cors-origins, AUTHYD_NO_CORS_URL
// lists only another origin. Screenshots go to ARTIFACTS_DIR.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

function required(name) {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(`${name} is not set: run the tests through run-tests.sh`);
  }
  return v;
}
const PAGE_URL = required("PAGE_URL");
const AUTHYD_URL = required("AUTHYD_URL");
const AUTHYD_NO_CORS_URL = required("AUTHYD_NO_CORS_URL");
const ARTIFACTS = required("ARTIFACTS_DIR");

let browser;
before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});
after(() => browser?.close());

/** Opens the page on `authyd`, clicks Run, waits for the end; returns the steps' results. */
async function runPage(authyd, screenshot) {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e}`));
  try {
    const user = `browser-${process.pid}-${Date.now()}`;
    await page.goto(`${PAGE_URL}/?authyd=${encodeURIComponent(authyd)}&user=${user}`);
    await page.click("#run:enabled");
    await page.waitForSelector("body[data-status=done], body[data-status=failed]", { timeout: 20_000 });
    await page.screenshot({ path: `${ARTIFACTS}/${screenshot}.png`, fullPage: true });
    const steps = Object.fromEntries(
      await page.$$eval("li[data-step]", (lis) => lis.map((li) => [li.dataset.step, li.textContent])),
    );
    return { user, status: await page.getAttribute("body", "data-status"), steps, consoleErrors };
  } finally {
    await page.close();
  }
}

test("the page and authyd are on different origins", () => {
  assert.notEqual(new URL(PAGE_URL).origin, new URL(AUTHYD_URL).origin);
});

test("from the browser: enroll, SMS code, verify, push approval over a stream, error details", async () => {
  const { user, status, steps, consoleErrors } = await runPage(AUTHYD_URL, "01-all-steps");
  assert.deepEqual(consoleErrors, [], "no console errors");
  assert.equal(status, "done", `the page failed: ${JSON.stringify(steps)}`);
  assert.deepEqual(steps, {
    "enroll": user,
    "send-sms": "true",
    "sms-code": steps["sms-code"],
    "verify-valid": "true",
    "verify-wrong": "false",
    "approval-states": "PENDING APPROVED",
    "bad-email-code": "InvalidArgument",
    "bad-email-reason": "INVALID_ARGUMENT",
    "bad-email-fields": "email",
  });
  assert.match(steps["sms-code"], /^\d{6,8}$/);
});

test("CORS is enforced: an authyd that does not list the page's origin is refused", async () => {
  const { status, steps, consoleErrors } = await runPage(AUTHYD_NO_CORS_URL, "02-cors-refused");
  assert.equal(status, "failed");
  // The first call already fails, as fetch does when CORS refuses: no status from the server.
  assert.deepEqual(Object.keys(steps), ["error"]);
  assert.match(steps.error, /^Unknown: .*Failed to fetch/);
  // Chromium says why: authyd answered the preflight without allowing the page's origin.
  assert.ok(consoleErrors.some((e) => e.includes("has been blocked by CORS policy")), JSON.stringify(consoleErrors));
  assert.deepEqual(consoleErrors.filter((e) => !/blocked by CORS policy|net::ERR_FAILED/.test(e)), []);
});
