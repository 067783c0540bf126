// End-to-end tests of the gateway in headless Chromium. run-tests.sh starts a sandbox authyd and
// the gateway and passes their addresses (AUTHYD_GRPC_ADDR, GATEWAY_URL); the sandbox service
// plays the user's phone (scans the QR, answers pushes, reads the texted code).
// The tests run in order and share one browser and one user, as a person would use the site.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, errorDetails } from "@authyd/client";
import type { Browser, BrowserContext, Page } from "playwright-core";
import * as t from "./support.js";
import { launchBrowser, markWindow, notReloaded, required, sandbox, screenshots, twoFactor } from "./support.js";

const GATEWAY = required("GATEWAY_URL");
const USER = `alice-${process.pid}`;
const PASSWORD = "correct horse battery staple";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let shot: (name: string) => Promise<void>;

const mainText = () => t.mainText(page);
const signIn = () => t.signIn(page, GATEWAY, USER, PASSWORD);

async function twoFaIsOn(): Promise<boolean> {
  try {
    await twoFactor.getUser({ userId: USER });
    return true;
  } catch (err) {
    assert.equal(errorDetails(err).code, Code.NotFound, `GetUser failed: ${String(err)}`);
    return false;
  }
}

async function signOut(): Promise<void> {
  await t.signOut(page, GATEWAY);
  assert.match(await mainText(), /Signed out/);
}

/** Signs in with the password and waits on the approval page until its live stream is open. */
async function signInToApproval(): Promise<string> {
  await signIn();
  await page.waitForURL(`${GATEWAY}/login/approve`);
  const section = page.locator("#approval");
  await page.waitForSelector("#approval[data-live='open'][data-state='PENDING']");
  const approvalId = await section.getAttribute("data-approval-id");
  assert.ok(approvalId, "the approval page names its approval in data-approval-id");
  return approvalId;
}

/** Whether this browser is signed in: /account answers, or sends it to /signin. */
async function signedIn(): Promise<boolean> {
  const res = await context.request.get(`${GATEWAY}/account`);
  return new URL(res.url()).pathname === "/account";
}

before(async () => {
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 900, height: 820 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  shot = screenshots(page);
});

after(async () => {
  await browser?.close();
});

test("sign-up rejects a bad username, escaping what was typed", async () => {
  await page.goto(`${GATEWAY}/signup`);
  await page.fill("#username", "<b>x</b>");
  await page.fill("#password", PASSWORD);
  await page.click("button:has-text('Sign up')");
  assert.match(await mainText(), /Usernames are 3 to 32 characters/);
  assert.equal(await page.inputValue("#username"), "<b>x</b>", "the typed text comes back as text");
  assert.equal(await page.locator("main form b").count(), 0, "no markup was injected");
});

test("a. sign up, then Enable 2FA: the QR page flips to enabled when the phone scans it", async () => {
  await page.goto(`${GATEWAY}/signup`);
  await shot("signup");
  await t.signUp(page, GATEWAY, USER, PASSWORD);
  assert.match(await mainText(), /Two-factor authentication: off/);
  const cookie = (await context.cookies()).find((c) => c.name === "gw_sid");
  assert.ok(cookie, "session cookie set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Lax");
  await shot("account-2fa-off");

  await page.click("button:has-text('Enable 2FA')");
  await page.waitForURL(`${GATEWAY}/2fa/setup`);
  await page.waitForSelector("#registration[data-live='open'][data-state='PENDING']");
  const qr = page.locator("img.qr");
  assert.ok(await qr.isVisible(), "QR code shown");
  assert.match((await qr.getAttribute("src")) ?? "", /^data:image\/svg\+xml;base64,/);
  assert.ok(((await qr.evaluate((img: HTMLImageElement) => img.naturalWidth)) as number) > 0, "the QR image decodes");
  assert.match(await mainText(), /Waiting for you to scan/);
  assert.match(await mainText(), /Code valid until/);
  assert.equal(await twoFaIsOn(), false, "2FA is not on before the scan");
  await shot("enable-2fa-qr");

  // The page must flip by itself (server-sent events), not by a reload.
  await markWindow(page);
  await sandbox.completeRegistration({ userId: USER });
  await page.waitForSelector("#registration[data-state='COMPLETED']", { timeout: 10_000 });
  assert.ok(await notReloaded(page), "no reload");
  assert.match(await mainText(), /2FA enabled/);
  assert.equal(await qr.isVisible(), false, "QR hidden once used");
  await shot("enable-2fa-completed");
  assert.equal(await twoFaIsOn(), true);

  await page.click("a:has-text('Back to your account')");
  await page.waitForURL(`${GATEWAY}/account`);
  assert.match(await mainText(), /Two-factor authentication: on/);
  await shot("account-2fa-on");
});

test("b. sign-in with 2FA waits for OneTouch, and lands on the account page once approved", async () => {
  await signOut();
  const approvalId = await signInToApproval();
  const { approval } = await twoFactor.getApproval({ approvalId });
  assert.equal(approval?.message, `Sign in to Gateway as ${USER}`);
  assert.match(approval?.details.Browser ?? "", /Chrome/);
  assert.match(await mainText(), /Waiting for you to approve/);
  await shot("approval-pending");

  // Neither the browser's word nor a direct visit signs anyone in while the push is pending.
  const early = await context.request.get(`${GATEWAY}/login/complete`);
  assert.equal(new URL(early.url()).pathname, "/login/approve");
  assert.equal(await signedIn(), false);

  await sandbox.answerApproval({ approvalId, approve: true });
  await page.waitForURL(`${GATEWAY}/account`, { timeout: 10_000 });
  const text = await mainText();
  assert.match(text, /approved in the Authy app/);
  assert.match(text, /Two-factor authentication: on/);
  assert.equal(await signedIn(), true);
  await shot("account-after-approval");
});

test("c. a denied push is explained, and does not sign in", async () => {
  await signOut();
  const approvalId = await signInToApproval();
  await markWindow(page);
  await sandbox.answerApproval({ approvalId, approve: false });
  await page.waitForSelector("#approval[data-state='DENIED']", { timeout: 10_000 });
  assert.ok(await notReloaded(page), "no reload");
  assert.equal(new URL(page.url()).pathname, "/login/approve");
  assert.match(await mainText(), /denied on your phone/);
  assert.ok(await page.locator("button:has-text('Send a new request')").isVisible(), "retry offered");
  assert.ok(await page.locator("[data-when~='DENIED'] button:has-text('Text me a code instead')").isVisible(), "SMS offered");
  await shot("approval-denied");

  const late = await context.request.get(`${GATEWAY}/login/complete`);
  assert.equal(new URL(late.url()).pathname, "/login/approve");
  assert.equal(await signedIn(), false);

  // "Send a new request" pushes a new approval (a new id), pending again.
  await page.click("button:has-text('Send a new request')");
  await page.waitForSelector("#approval[data-live='open'][data-state='PENDING']");
  const again = await page.locator("#approval").getAttribute("data-approval-id");
  assert.ok(again !== null && again !== approvalId, "a new approval");
  assert.match(await mainText(), /We sent a new request/);
});

test("d. SMS fallback: a wrong code is refused, the texted code signs in", async () => {
  // Still on the approval page of the new request from the previous test.
  await page.click("[data-when~='PENDING'] button:has-text('Text me a code instead')");
  await page.waitForURL(`${GATEWAY}/login/code`);
  assert.match(await mainText(), /We sent a code to/);
  const { smsCode, totpCode } = await sandbox.getCodes({ userId: USER });
  assert.match(smsCode, /^\d{6,12}$/, "the phone received a code");
  await shot("sms-code-form");

  let wrong = "000000";
  for (let n = 0; wrong === smsCode || wrong === totpCode; n++) {
    wrong = String(n * 7919 + 123456).padStart(6, "0").slice(-6);
  }
  await page.fill("#code", wrong);
  await page.click("button:has-text('Verify')");
  await page.waitForURL(`${GATEWAY}/login/code`);
  assert.match(await mainText(), /That code is not right/);
  assert.equal(await signedIn(), false);
  await shot("sms-code-wrong");

  await page.fill("#code", "12ab");
  await page.click("button:has-text('Verify')");
  assert.match(await mainText(), /Codes are 6 to 12 digits/);

  await page.fill("#code", smsCode);
  await page.click("button:has-text('Verify')");
  await page.waitForURL(`${GATEWAY}/account`);
  assert.match(await mainText(), /code verified/);
  assert.equal(await signedIn(), true);
  await shot("account-after-sms");
});

test("forms without the session's CSRF token, or from another origin, are refused", async () => {
  const noToken = await context.request.post(`${GATEWAY}/2fa/disable`, { form: { password: PASSWORD } });
  assert.equal(noToken.status(), 403);
  const csrf = await page.locator("form[action='/2fa/disable'] input[name=_csrf]").inputValue();
  const foreign = await context.request.post(`${GATEWAY}/2fa/disable`, {
    form: { _csrf: csrf, password: PASSWORD },
    headers: { origin: "https://evil.example" },
  });
  assert.equal(foreign.status(), 403);
  assert.equal(await twoFaIsOn(), true, "2FA still on");
});

test("e. Disable 2FA: the next sign-in goes straight to the account page", async () => {
  await page.fill("#password", "not my password");
  await page.click("button:has-text('Disable 2FA')");
  await page.waitForURL(`${GATEWAY}/account`);
  assert.match(await mainText(), /Wrong password: 2FA is still on/);
  assert.equal(await twoFaIsOn(), true);

  await page.fill("#password", PASSWORD);
  await page.click("button:has-text('Disable 2FA')");
  await page.waitForURL(`${GATEWAY}/account`);
  assert.match(await mainText(), /2FA disabled/);
  assert.match(await mainText(), /Two-factor authentication: off/);
  assert.equal(await twoFaIsOn(), false, "unenrolled at authyd");
  await shot("account-2fa-disabled");

  await signOut();
  await signIn();
  await page.waitForURL(`${GATEWAY}/account`);
  assert.match(await mainText(), new RegExp(`Signed in as ${USER}\\.`));
  await shot("signin-without-2fa");
});

test("a wrong password is refused", async () => {
  await signOut();
  await page.fill("#username", USER);
  await page.fill("#password", "wrong password!");
  await page.click("button:has-text('Sign in')");
  assert.match(await mainText(), /Wrong username or password/);
  assert.equal(await signedIn(), false);
});
