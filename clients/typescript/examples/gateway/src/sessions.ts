// Server-side sessions behind an HttpOnly, SameSite=Lax cookie holding a random id. Each session
// has its own CSRF token, put in every form.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export const COOKIE = "gw_sid";
const IDLE_MS = 30 * 60 * 1000;

/** Password checked, second factor not yet: what the approval and SMS pages work on. */
export interface PendingLogin {
  username: string;
  /** The OneTouch approval of this attempt (authyd's id), once requested. */
  approvalId?: string;
  /** Where the SMS went (masked), once sent. */
  smsTo?: string;
  /** Details shown on the phone and on the page. */
  details: Record<string, string>;
  startedMs: number;
}

/** An "Enable 2FA" in progress: the QR to show. The JWT itself is not kept. */
export interface PendingRegistration {
  qrSvg: string;
  qrPng: Uint8Array;
  expireTime: Date;
}

export interface Session {
  id: string;
  csrf: string;
  /** The signed-in user, set only after every factor the account needs has passed. */
  user?: string;
  login?: PendingLogin;
  registration?: PendingRegistration;
  /** A one-time notice for the next page. */
  flash?: string;
  seenMs: number;
}

function token(): string {
  return randomBytes(32).toString("base64url");
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) {
      out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
  }
  return out;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly secureCookie: boolean) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) {
      if (now - s.seenMs > IDLE_MS) {
        this.sessions.delete(id);
      }
    }
  }

  /** The request's session, if its cookie names a live one. */
  find(req: IncomingMessage): Session | undefined {
    const id = parseCookies(req.headers.cookie).get(COOKIE);
    const s = id === undefined ? undefined : this.sessions.get(id);
    if (s === undefined) {
      return undefined;
    }
    if (Date.now() - s.seenMs > IDLE_MS) {
      this.sessions.delete(s.id);
      return undefined;
    }
    s.seenMs = Date.now();
    return s;
  }

  /** The request's session, or a new anonymous one (cookie set on `res`). */
  ensure(req: IncomingMessage, res: ServerResponse): Session {
    return this.find(req) ?? this.issue(res, {});
  }

  /**
   * Replaces `old` by a new session with a new id and CSRF token (on every sign-in and sign-out,
   * so an id known before a sign-in is worth nothing after it).
   */
  rotate(res: ServerResponse, old: Session | undefined, keep: Partial<Session>): Session {
    if (old !== undefined) {
      this.sessions.delete(old.id);
    }
    return this.issue(res, keep);
  }

  private issue(res: ServerResponse, keep: Partial<Session>): Session {
    const s: Session = { ...keep, id: token(), csrf: token(), seenMs: Date.now() };
    this.sessions.set(s.id, s);
    const attrs = ["Path=/", "HttpOnly", "SameSite=Lax", ...(this.secureCookie ? ["Secure"] : [])];
    res.setHeader("set-cookie", `${COOKIE}=${s.id}; ${attrs.join("; ")}`);
    return s;
  }

  /** Whether a submitted CSRF token is this session's. */
  static csrfOk(s: Session, submitted: string | null): boolean {
    if (submitted === null) {
      return false;
    }
    const a = Buffer.from(s.csrf);
    const b = Buffer.from(submitted);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
