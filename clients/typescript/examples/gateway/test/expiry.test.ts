// Expiry, against the second gateway run-tests.sh starts (GATEWAY_SHORT_TTL_URL), whose OneTouch
// pushes and registration QR codes expire after 3 s: the pages must say so and offer a way on.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApprovalState } from "@authyd/client";
import type { Browser, Page } from "playwright-core";
import * as t from "./support.js";
import { launchBrowser, markWindow, notReloaded, required, sandbox, screenshots, twoFactor } from "./support.js";

const GATEWAY = required("GATEWAY_SHORT_TTL_URL");
const USER = `bob-${process.pid}`;
const PASSWORD = "another long password";

let browser: Browser;
let page: Page;
let shot: (name: string) => Promise<void>;

before(async () => {
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 900, height: 820 } })).newPage();
  page.setDefaultTimeout(15_000);
  shot = screenshots(page, "expiry-");
});

after(async () => {
  await browser?.close();
});

test("an unscanned QR code expires; 'Get a new code' shows a fresh one that works", async () => {
  await t.signUp(page, GATEWAY, USER, PASSWORD);
  await page.click("button:has-text('Enable 2FA')");
  await page.waitForURL(`${GATEWAY}/2fa/setup`);
  const first = await page.locator("img.qr").getAttribute("src");
  await markWindow(page);
  await page.waitForSelector("#registration[data-state='EXPIRED']", { timeout: 10_000 });
  assert.ok(await notReloaded(page), "flipped live, no reload");
  assert.match(await t.mainText(page), /expired before it was scanned/);
  assert.equal(await page.locator("img.qr").isVisible(), false, "the expired QR is hidden");
  await shot("qr-expired");

  await page.click("button:has-text('Get a new code')");
  await page.waitForURL(`${GATEWAY}/2fa/setup`);
  await page.waitForSelector("#registration[data-live='open'][data-state='PENDING']");
  const second = await page.locator("img.qr").getAttribute("src");
  assert.ok(second !== null && second !== first, "a new QR code");
  await sandbox.completeRegistration({ userId: USER });
  await page.waitForSelector("#registration[data-state='COMPLETED']", { timeout: 10_000 });
  assert.match(await t.mainText(page), /2FA enabled/);
});

test("an unanswered push expires; the page explains and offers a new request or a code", async () => {
  await t.signOut(page, GATEWAY);
  await t.signIn(page, GATEWAY, USER, PASSWORD);
  await page.waitForURL(`${GATEWAY}/login/approve`);
  const approvalId = await page.locator("#approval").getAttribute("data-approval-id");
  assert.ok(approvalId);
  await page.waitForSelector("#approval[data-state='EXPIRED']", { timeout: 10_000 });
  assert.match(await t.mainText(page), /expired before it was answered/);
  assert.ok(await page.locator("button:has-text('Send a new request')").isVisible());
  assert.ok(await page.locator("[data-when~='EXPIRED'] button:has-text('Text me a code instead')").isVisible());
  await shot("approval-expired");

  // Answering too late changes nothing: still not signed in.
  await sandbox.answerApproval({ approvalId, approve: true }).catch(() => undefined);
  const { approval } = await twoFactor.getApproval({ approvalId });
  assert.equal(approval?.state, ApprovalState.EXPIRED);
  const late = await page.context().request.get(`${GATEWAY}/login/complete`);
  assert.equal(new URL(late.url()).pathname, "/login/approve");
  const res = await page.context().request.get(`${GATEWAY}/account`);
  assert.equal(new URL(res.url()).pathname, "/signin");
});

test("SMS sends beyond authyd's limit are refused politely, with its retry delay", async () => {
  // Still on the expired approval page: one send, then "Send another code" until authyd's
  // per-user limit (5 per 10 minutes by default) answers RESOURCE_EXHAUSTED.
  await page.click("[data-when~='EXPIRED'] button:has-text('Text me a code instead')");
  await page.waitForURL(`${GATEWAY}/login/code`);
  assert.match(await t.mainText(page), /Code sent to/);
  let refused = false;
  for (let sends = 1; sends <= 10 && !refused; sends++) {
    await page.click("button:has-text('Send another code')");
    await page.waitForLoadState();
    refused = /Too many attempts/.test(await t.mainText(page));
  }
  assert.ok(refused, "authyd's send limit was reached within 10 sends");
  assert.match(await t.mainText(page), /Too many attempts to send a code\. Try again in \d+ (s|min)\./);
  assert.ok(await page.locator("#code").isVisible(), "the code form is still there");
  await shot("sms-limit");
});
