// The gateway: its own accounts (username + password), and a second factor through authyd —
// OneTouch push with live status, SMS code fallback, QR "Enable 2FA", "Disable 2FA".
import { randomUUID } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import {
  ApprovalState,
  Code,
  RegistrationState,
  errorDetails,
  watchApproval,
  type Approval,
  type TwoFactorClient,
  type User,
} from "@authyd/client";
import { APP_JS, STYLE_CSS } from "./assets.js";
import { form, html, page, Raw, type PageOptions } from "./html.js";
import { SessionStore, type PendingLogin, type Session } from "./sessions.js";
import { UserStore } from "./users.js";

export interface GatewayOptions {
  /** authyd's TwoFactorService. */
  twoFactor: TwoFactorClient;
  /** Marks the cookie Secure (set when the gateway is served over HTTPS). */
  secureCookie?: boolean;
  /** Seconds the user has to answer a OneTouch push. */
  approvalTtlSeconds?: number;
  /** Seconds a registration QR code stays valid. */
  registrationTtlSeconds?: number;
  /** Where to report unexpected errors (never secrets). */
  log?: (line: string) => void;
}

export interface Gateway {
  handler: RequestListener;
  close(): void;
}

const LOGIN_TTL_MS = 10 * 60 * 1000;
const BODY_LIMIT = 16 * 1024;
const KEEPALIVE_MS = 15_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function timestamp(ts: { seconds: bigint; nanos: number } | undefined): Date | undefined {
  return ts === undefined ? undefined : new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
}

/** A failed authyd call, told politely (never the raw error, which may name internals). */
function politely(err: unknown, what: string): string {
  const d = errorDetails(err);
  switch (d.code) {
    case Code.ResourceExhausted: {
      const secs = d.retryDelayMs === undefined ? undefined : Math.max(1, Math.ceil(d.retryDelayMs / 1000));
      const wait =
        secs === undefined ? " Try again later." : secs < 90 ? ` Try again in ${secs} s.` : ` Try again in ${Math.ceil(secs / 60)} min.`;
      return `Too many attempts to ${what}.${wait}`;
    }
    case Code.InvalidArgument: {
      const v = d.fieldViolations[0];
      return v !== undefined ? `That did not work: ${v.description}.` : `That did not work: ${d.message}.`;
    }
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return `The two-factor service is not reachable right now, so we could not ${what}. Please try again in a moment.`;
    default:
      return `Something went wrong while trying to ${what}. Please try again.`;
  }
}

/** The HTTP status for a page that reports a failed authyd call. */
function statusFor(err: unknown): number {
  switch (errorDetails(err).code) {
    case Code.ResourceExhausted:
      return 429;
    case Code.InvalidArgument:
      return 400;
    default:
      return 503;
  }
}

export function createGateway(opts: GatewayOptions): Gateway {
  const { twoFactor } = opts;
  const users = new UserStore();
  const sessions = new SessionStore(opts.secureCookie ?? false);
  const approvalTtl = BigInt(opts.approvalTtlSeconds ?? 120);
  const registrationTtl = BigInt(opts.registrationTtlSeconds ?? 300);
  const log = opts.log ?? ((line: string) => console.error(line));

  // ---- response helpers ----------------------------------------------------------------------

  function send(res: ServerResponse, status: number, body: string, type = "text/html; charset=utf-8"): void {
    res.writeHead(status, {
      "content-type": type,
      "cache-control": "no-store",
      "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin",
    });
    res.end(body);
  }

  function redirect(res: ServerResponse, to: string): void {
    res.writeHead(303, { location: to, "cache-control": "no-store" });
    res.end();
  }

  function show(res: ServerResponse, s: Session | undefined, opts: PageOptions, content: Raw, status = 200): void {
    const flash = s?.flash;
    if (s !== undefined) {
      s.flash = undefined;
    }
    send(res, status, page({ user: s?.user, csrf: s?.csrf, flash, ...opts }, content));
  }

  async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      throw new HttpError(415, "Forms only.");
    }
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        throw new HttpError(413, "That form is too large.");
      }
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
  }

  /**
   * A POST from one of our own pages: same origin (when the browser says which) and the
   * session's CSRF token. Returns the session and the form.
   */
  async function post(req: IncomingMessage): Promise<{ s: Session; f: URLSearchParams }> {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== "null") {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (host !== req.headers.host) {
        throw new HttpError(403, "Cross-site form posts are refused.");
      }
    } else if (origin === "null") {
      throw new HttpError(403, "Cross-site form posts are refused.");
    }
    const s = sessions.find(req);
    const f = await readForm(req);
    if (s === undefined || !SessionStore.csrfOk(s, f.get("_csrf"))) {
      throw new HttpError(403, "This form has expired. Go back, reload the page and try again.");
    }
    return { s, f };
  }

  function pendingLogin(s: Session | undefined): PendingLogin | undefined {
    const login = s?.login;
    if (login === undefined) {
      return undefined;
    }
    if (Date.now() - login.startedMs > LOGIN_TTL_MS) {
      s!.login = undefined;
      return undefined;
    }
    return login;
  }

  /** Every factor passed: a new session (new id) for the user. */
  function signIn(res: ServerResponse, old: Session, username: string, flash: string): void {
    sessions.rotate(res, old, { user: username, flash });
    redirect(res, "/account");
  }

  // ---- authyd look-ups -------------------------------------------------------------------------

  /** The user's authyd record; undefined when 2FA is off (NOT_FOUND). Other errors throw. */
  async function authydUser(username: string): Promise<User | undefined> {
    try {
      return (await twoFactor.getUser({ userId: username })).user;
    } catch (err) {
      if (errorDetails(err).code === Code.NotFound) {
        return undefined;
      }
      throw err;
    }
  }

  async function requestApproval(login: PendingLogin): Promise<Approval> {
    const res = await twoFactor.requestApproval({
      userId: login.username,
      message: `Sign in to Gateway as ${login.username}`,
      details: login.details,
      ttl: { seconds: approvalTtl, nanos: 0 },
      requestId: `gateway-login-${randomUUID()}`, // one per attempt: a retry is a new push
    });
    if (res.approval === undefined) {
      throw new Error("RequestApproval answered without an approval");
    }
    login.approvalId = res.approval.approvalId;
    return res.approval;
  }

  async function sendSms(login: PendingLogin): Promise<void> {
    const res = await twoFactor.sendSms({ userId: login.username, force: true, action: "login", actionMessage: "Sign in to Gateway" });
    login.smsTo = res.maskedPhone !== "" ? res.maskedPhone : "your phone";
  }

  // ---- pages -----------------------------------------------------------------------------------

  function signInPage(res: ServerResponse, s: Session, error?: string, username = "", status = 200): void {
    show(
      res,
      s,
      { title: "Sign in", error },
      html`<h1>Sign in</h1>
${form(
  "/signin",
  s.csrf,
  html`<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" value="${username}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>`,
)}
<p class="muted">No account yet? <a href="/signup">Sign up</a>.</p>`,
      status,
    );
  }

  function signUpPage(res: ServerResponse, s: Session, error?: string, username = "", status = 200): void {
    show(
      res,
      s,
      { title: "Sign up", error },
      html`<h1>Create an account</h1>
${form(
  "/signup",
  s.csrf,
  html`<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" value="${username}" required autofocus>
<label for="password">Password (8 characters or more)</label><input id="password" name="password" type="password" autocomplete="new-password" required>
<button type="submit">Sign up</button>`,
)}
<p class="muted">Have an account? <a href="/signin">Sign in</a>.</p>`,
      status,
    );
  }

  function detailsList(details: Record<string, string>): Raw {
    return html`<dl class="details">${Object.entries(details).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
  }

  const APPROVAL_TEXT: Record<ApprovalState, string> = {
    [ApprovalState.UNSPECIFIED]: "Waiting for your phone…",
    [ApprovalState.PENDING]: "Waiting for you to approve on your phone…",
    [ApprovalState.APPROVED]: "Approved. Signing you in…",
    [ApprovalState.DENIED]: "This sign-in was denied on your phone. If that was not you, someone may know your password: change it.",
    [ApprovalState.EXPIRED]: "The request expired before it was answered.",
  };

  async function approvalPage(res: ServerResponse, s: Session, login: PendingLogin, error?: string): Promise<void> {
    // Rendered with the state as it is now (a reload after the answer shows the answer); the
    // script then follows it live over /login/approve/events.
    let state = ApprovalState.PENDING;
    try {
      const a = (await twoFactor.getApproval({ approvalId: login.approvalId! })).approval;
      state = a?.state ?? state;
    } catch (err) {
      error ??= politely(err, "check the sign-in request");
    }
    const name = ApprovalState[state];
    const smsForm = form("/login/sms", s.csrf, html`<button class="secondary" type="submit">Text me a code instead</button>`);
    show(
      res,
      s,
      { title: "Approve sign-in", error },
      html`<h1>Approve this sign-in</h1>
<section id="approval" data-approval-id="${login.approvalId!}" data-events="/login/approve/events" data-state="${name}">
<p>We sent a request to the Authy app on your phone. Open it and tap <b>Approve</b>.</p>
<p class="status" data-status aria-live="polite">${state === ApprovalState.PENDING ? html`<span class="spinner"></span>` : ""}${APPROVAL_TEXT[state]}</p>
${detailsList({ Account: login.username, ...login.details })}
<div data-when="APPROVED"><a href="/login/complete">Continue</a></div>
<div data-when="DENIED EXPIRED">
<div class="row">${form("/login/approve/retry", s.csrf, html`<button type="submit">Send a new request</button>`)}${smsForm}</div>
</div>
<div data-when="PENDING"><p class="muted">No phone at hand?</p>${smsForm}</div>
</section>`,
    );
  }

  function codePage(res: ServerResponse, s: Session, login: PendingLogin, error?: string, status = 200): void {
    show(
      res,
      s,
      { title: "Enter your code", error },
      html`<h1>Enter the code we texted you</h1>
<p>We sent a code to <b>${login.smsTo ?? "your phone"}</b>. The Authy app's code works too.</p>
${form(
  "/login/code",
  s.csrf,
  html`<label for="code">Code</label><input id="code" class="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12" required autofocus>
<button type="submit">Verify</button>`,
)}
<div class="row">${form("/login/sms", s.csrf, html`<button class="secondary" type="submit">Send another code</button>`)}</div>`,
      status,
    );
  }

  async function accountPage(res: ServerResponse, s: Session, user: string): Promise<void> {
    let authy: User | undefined;
    let error: string | undefined;
    let known = true;
    try {
      authy = await authydUser(user);
    } catch (err) {
      known = false;
      error = politely(err, "read your two-factor status");
    }
    let twoFa: Raw;
    if (!known) {
      twoFa = html`<p>Two-factor status: <span class="badge off">unknown</span></p>`;
    } else if (authy === undefined) {
      twoFa = html`<p>Two-factor authentication: <span class="badge off" id="tfa-state">off</span></p>
<p class="muted">Turn it on to approve each sign-in from the Authy app on your phone.</p>
${form("/2fa/enable", s.csrf, html`<button type="submit">Enable 2FA</button>`)}`;
    } else {
      const devices = authy.devices.length > 0 ? authy.devices.join(", ") : "none yet";
      twoFa = html`<p>Two-factor authentication: <span class="badge on" id="tfa-state">on</span></p>
<dl class="details"><dt>Phone</dt><dd>${authy.maskedPhone || "—"}</dd><dt>Authy app on</dt><dd>${devices}</dd></dl>
${form(
  "/2fa/disable",
  s.csrf,
  html`<label for="password">Confirm your password to disable 2FA</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="danger" type="submit">Disable 2FA</button>`,
)}`;
    }
    show(res, s, { title: "Your account", error }, html`<h1>Your account</h1>${twoFa}`);
  }

  const REGISTRATION_TEXT: Record<RegistrationState, string> = {
    [RegistrationState.UNSPECIFIED]: "Waiting for the scan…",
    [RegistrationState.PENDING]: "Waiting for you to scan the code with the Authy app…",
    [RegistrationState.COMPLETED]: "2FA enabled. Your next sign-in asks the Authy app.",
    [RegistrationState.EXPIRED]: "This code expired before it was scanned.",
    [RegistrationState.FAILED]: "The registration failed at Authy.",
  };

  function setupPage(res: ServerResponse, s: Session): void {
    const reg = s.registration;
    if (reg === undefined) {
      redirect(res, "/account");
      return;
    }
    const expired = reg.expireTime.getTime() <= Date.now();
    const state = expired ? RegistrationState.EXPIRED : RegistrationState.PENDING;
    const svg = `data:image/svg+xml;base64,${Buffer.from(reg.qrSvg, "utf8").toString("base64")}`;
    const png = `data:image/png;base64,${Buffer.from(reg.qrPng).toString("base64")}`;
    const newCode = form("/2fa/enable", s.csrf, html`<button type="submit">Get a new code</button>`);
    show(
      res,
      s,
      { title: "Enable 2FA" },
      html`<h1>Enable two-factor authentication</h1>
<section id="registration" data-events="/2fa/events" data-state="${RegistrationState[state]}">
<div data-when="PENDING">
<p>Open the Authy app, tap <b>+</b> (Add account) and scan this code:</p>
<img class="qr" src="${svg}" alt="QR code for the Authy app" width="240" height="240">
<p class="muted">Code valid until <time datetime="${reg.expireTime.toISOString()}">${reg.expireTime.toUTCString()}</time>. <a href="${png}" download="gateway-authy-qr.png">Download as PNG</a></p>
</div>
<p class="status" data-status aria-live="polite">${state === RegistrationState.PENDING ? html`<span class="spinner"></span>` : ""}${REGISTRATION_TEXT[state]}</p>
<div data-when="COMPLETED"><p><a href="/account">Back to your account</a></p></div>
<div data-when="EXPIRED FAILED">${newCode}</div>
</section>`,
    );
  }

  // ---- server-sent events --------------------------------------------------------------------

  /** Starts an event stream; returns a writer and an AbortSignal that fires when the browser leaves. */
  function eventStream(req: IncomingMessage, res: ServerResponse) {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n"); // EventSource reconnects after 2 s if the stream drops
    const ac = new AbortController();
    const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
    const stop = () => {
      clearInterval(keepalive);
      ac.abort();
    };
    res.on("close", stop);
    return {
      signal: ac.signal,
      event(name: string, data: unknown): void {
        res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      end(): void {
        stop();
        res.end();
      },
    };
  }

  /** One "state" event for the page script (see assets.ts). */
  interface StateEvent {
    state: string;
    message: string;
    final: boolean;
    redirect?: string;
  }
  const TROUBLE = { message: "Lost contact with the two-factor service; reconnecting…" };

  /**
   * Relays a watch of authyd to the browser as server-sent events until a final state. A watch
   * that fails or ends early sends "trouble" and ends the stream: EventSource reconnects and the
   * next watch starts from authyd's current state. NOT_FOUND is told as `gone`.
   */
  async function relay(
    req: IncomingMessage,
    res: ServerResponse,
    what: string,
    follow: (signal: AbortSignal) => AsyncIterable<StateEvent>,
    gone: StateEvent,
  ): Promise<void> {
    const stream = eventStream(req, res);
    try {
      for await (const ev of follow(stream.signal)) {
        stream.event("state", ev);
        if (ev.final) {
          return;
        }
      }
      stream.event("trouble", TROUBLE);
    } catch (err) {
      if (!stream.signal.aborted) {
        const d = errorDetails(err);
        if (d.code === Code.NotFound) {
          stream.event("state", gone);
        } else {
          log(`${what} watch ended: ${Code[d.code]} ${d.reason ?? ""}`);
          stream.event("trouble", TROUBLE);
        }
      }
    } finally {
      stream.end();
    }
  }

  function approvalEvents(req: IncomingMessage, res: ServerResponse, login: PendingLogin): Promise<void> {
    const expired = { state: "EXPIRED", message: APPROVAL_TEXT[ApprovalState.EXPIRED], final: true };
    return relay(req, res, "approval", async function* (signal) {
      for await (const a of watchApproval(twoFactor, login.approvalId!, { signal })) {
        yield {
          state: ApprovalState[a.state],
          message: APPROVAL_TEXT[a.state],
          final: a.state !== ApprovalState.PENDING,
          // Only a hint for the browser: /login/complete asks authyd itself.
          redirect: a.state === ApprovalState.APPROVED ? "/login/complete" : undefined,
        };
      }
    }, expired);
  }

  function registrationEvents(req: IncomingMessage, res: ServerResponse, s: Session, user: string): Promise<void> {
    const expired = { state: "EXPIRED", message: REGISTRATION_TEXT[RegistrationState.EXPIRED], final: true };
    return relay(req, res, "registration", async function* (signal) {
      for await (const m of twoFactor.watchRegistration({ userId: user }, { signal })) {
        if (m.state === RegistrationState.COMPLETED) {
          s.registration = undefined; // the QR (a bearer credential) is not needed any more
          s.flash = "2FA enabled.";
        }
        yield {
          state: RegistrationState[m.state],
          message: REGISTRATION_TEXT[m.state],
          final: m.state !== RegistrationState.PENDING && m.state !== RegistrationState.UNSPECIFIED,
        };
      }
    }, expired);
  }

  // ---- routes ----------------------------------------------------------------------------------

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway.invalid");
    const key = `${req.method} ${url.pathname}`;

    switch (key) {
      case "GET /static/style.css":
        return send(res, 200, STYLE_CSS, "text/css; charset=utf-8");
      case "GET /static/app.js":
        return send(res, 200, APP_JS, "text/javascript; charset=utf-8");
      case "GET /": {
        const s = sessions.find(req);
        return redirect(res, s?.user !== undefined ? "/account" : "/signin");
      }

      case "GET /signup": {
        const s = sessions.ensure(req, res);
        return s.user !== undefined ? redirect(res, "/account") : signUpPage(res, s);
      }
      case "POST /signup": {
        const { s, f } = await post(req);
        const username = UserStore.normalize(f.get("username") ?? "");
        const password = f.get("password") ?? "";
        const problem = UserStore.problem(username, password);
        if (problem !== undefined) {
          return signUpPage(res, s, problem, username, 400);
        }
        if (!(await users.create(username, password))) {
          return signUpPage(res, s, "That username is taken.", username, 409);
        }
        // A new account has no second factor yet.
        return signIn(res, s, username, "Welcome! Your account is ready. Turn on 2FA below.");
      }

      case "GET /signin": {
        const s = sessions.ensure(req, res);
        return s.user !== undefined ? redirect(res, "/account") : signInPage(res, s);
      }
      case "POST /signin": {
        const { s, f } = await post(req);
        const username = UserStore.normalize(f.get("username") ?? "");
        const password = f.get("password") ?? "";
        if (!(await users.verify(username, password))) {
          return signInPage(res, s, "Wrong username or password.", username, 401);
        }
        let authy: User | undefined;
        try {
          authy = await authydUser(username);
        } catch (err) {
          // Fail closed: without knowing whether 2FA is on, nobody gets in.
          return signInPage(res, s, politely(err, "check your second factor"), username, 503);
        }
        if (authy === undefined) {
          return signIn(res, s, username, `Signed in as ${username}.`);
        }
        const ua = req.headers["user-agent"] ?? "unknown";
        const login: PendingLogin = {
          username,
          startedMs: Date.now(),
          details: {
            IP: req.socket.remoteAddress ?? "unknown",
            Browser: ua.length > 200 ? `${ua.slice(0, 199)}…` : ua,
          },
        };
        // The password is right; the session holds only the pending login, never the user.
        const next = sessions.rotate(res, s, { login });
        try {
          if (!authy.registered) {
            await sendSms(login); // no Authy app to push to: straight to the SMS code
            return redirect(res, "/login/code");
          }
          await requestApproval(login);
          return redirect(res, "/login/approve");
        } catch (err) {
          next.flash = undefined;
          return signInPage(res, next, politely(err, "reach your phone"), username, 503);
        }
      }

      case "POST /signout": {
        const { s } = await post(req);
        sessions.rotate(res, s, { flash: "Signed out." });
        return redirect(res, "/signin");
      }

      case "GET /login/approve": {
        const s = sessions.find(req);
        const login = pendingLogin(s);
        if (s === undefined || login?.approvalId === undefined) {
          return redirect(res, "/signin");
        }
        return approvalPage(res, s, login);
      }
      case "GET /login/approve/events": {
        const login = pendingLogin(sessions.find(req));
        if (login?.approvalId === undefined) {
          return send(res, 404, "no sign-in in progress", "text/plain; charset=utf-8");
        }
        return approvalEvents(req, res, login);
      }
      case "POST /login/approve/retry": {
        const { s } = await post(req);
        const login = pendingLogin(s);
        if (login === undefined) {
          return redirect(res, "/signin");
        }
        try {
          await requestApproval(login);
        } catch (err) {
          return approvalPage(res, s, login, politely(err, "send a new request"));
        }
        s.flash = "We sent a new request to your phone.";
        return redirect(res, "/login/approve");
      }
      case "GET /login/complete": {
        // The session is established only when authyd says this attempt's approval is
        // APPROVED; what the browser says does not count.
        const s = sessions.find(req);
        const login = pendingLogin(s);
        if (s === undefined || login?.approvalId === undefined) {
          return redirect(res, "/signin");
        }
        let a: Approval | undefined;
        try {
          a = (await twoFactor.getApproval({ approvalId: login.approvalId })).approval;
        } catch (err) {
          return approvalPage(res, s, login, politely(err, "check the sign-in request"));
        }
        if (a?.state === ApprovalState.APPROVED && a.userId === login.username) {
          return signIn(res, s, login.username, `Signed in as ${login.username} (approved in the Authy app).`);
        }
        return redirect(res, "/login/approve");
      }

      case "POST /login/sms": {
        const { s } = await post(req);
        const login = pendingLogin(s);
        if (login === undefined) {
          return redirect(res, "/signin");
        }
        try {
          await sendSms(login);
        } catch (err) {
          const msg = politely(err, "send a code");
          if (login.smsTo !== undefined) {
            return codePage(res, s, login, msg, statusFor(err));
          }
          return login.approvalId !== undefined ? approvalPage(res, s, login, msg) : signInPage(res, s, msg, login.username, statusFor(err));
        }
        s.flash = `Code sent to ${login.smsTo}.`;
        return redirect(res, "/login/code");
      }
      case "GET /login/code": {
        const s = sessions.find(req);
        const login = pendingLogin(s);
        if (s === undefined || login?.smsTo === undefined) {
          return redirect(res, "/signin");
        }
        return codePage(res, s, login);
      }
      case "POST /login/code": {
        const { s, f } = await post(req);
        const login = pendingLogin(s);
        if (login === undefined) {
          return redirect(res, "/signin");
        }
        const code = (f.get("code") ?? "").replace(/\s+/g, "");
        if (!/^\d{6,12}$/.test(code)) {
          return codePage(res, s, login, "Codes are 6 to 12 digits.", 400);
        }
        let valid: boolean;
        try {
          valid = (await twoFactor.verifyToken({ userId: login.username, token: code, action: "login" })).valid;
        } catch (err) {
          return codePage(res, s, login, politely(err, "check that code"), statusFor(err));
        }
        if (!valid) {
          return codePage(res, s, login, "That code is not right. Check the latest text message and try again.", 401);
        }
        return signIn(res, s, login.username, `Signed in as ${login.username} (code verified).`);
      }

      case "GET /account": {
        const s = sessions.find(req);
        if (s?.user === undefined) {
          return redirect(res, "/signin");
        }
        return accountPage(res, s, s.user);
      }
      case "POST /2fa/enable": {
        const { s } = await post(req);
        if (s.user === undefined) {
          return redirect(res, "/signin");
        }
        try {
          const r = await twoFactor.startRegistration({ userId: s.user, ttl: { seconds: registrationTtl, nanos: 0 } });
          s.registration = {
            qrSvg: r.qrSvg,
            qrPng: r.qrPng,
            expireTime: timestamp(r.expireTime) ?? new Date(Date.now() + Number(registrationTtl) * 1000),
          };
        } catch (err) {
          const d = errorDetails(err);
          s.flash = d.reason === "USER_ALREADY_ENROLLED" ? "2FA is already on." : politely(err, "start the 2FA setup");
          return redirect(res, "/account");
        }
        return redirect(res, "/2fa/setup");
      }
      case "GET /2fa/setup": {
        const s = sessions.find(req);
        if (s?.user === undefined) {
          return redirect(res, "/signin");
        }
        return setupPage(res, s);
      }
      case "GET /2fa/events": {
        const s = sessions.find(req);
        if (s?.user === undefined) {
          return send(res, 404, "not signed in", "text/plain; charset=utf-8");
        }
        return registrationEvents(req, res, s, s.user);
      }
      case "POST /2fa/disable": {
        const { s, f } = await post(req);
        if (s.user === undefined) {
          return redirect(res, "/signin");
        }
        if (!(await users.verify(s.user, f.get("password") ?? ""))) {
          s.flash = "Wrong password: 2FA is still on.";
          return redirect(res, "/account");
        }
        try {
          await twoFactor.unenroll({ userId: s.user });
          s.flash = "2FA disabled. You sign in with your password alone now.";
        } catch (err) {
          s.flash = politely(err, "disable 2FA");
        }
        return redirect(res, "/account");
      }
    }
    throw new HttpError(404, "There is no such page.");
  }

  const handler: RequestListener = (req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError)) {
        log(`${req.method} ${req.url?.split("?")[0]}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = err instanceof HttpError ? err.message : "Something went wrong on our side.";
      send(res, status, page({ title: "Error", error: message }, html`<p><a href="/">Start again</a></p>`));
    });
  };

  return { handler, close: () => sessions.close() };
}
