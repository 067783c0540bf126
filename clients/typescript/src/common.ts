// Hand-written helpers shared by the Node entry point (index.ts) and the browser one (web.ts).
// The generated code under gen/ is never edited: scripts/generate rewrites it.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import {
  ApprovalState,
  TwoFactorService,
  type Approval,
} from "./gen/authyd/v1/two_factor_pb.js";
import { SandboxService } from "./gen/authyd/sandbox/v1/sandbox_pb.js";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** A client of `authyd.v1.TwoFactorService`. */
export type TwoFactorClient = Client<typeof TwoFactorService>;
/** A client of `authyd.sandbox.v1.SandboxService` (served only by a sandbox authyd). */
export type SandboxClient = Client<typeof SandboxService>;

/** Options shared by every transport. */
export interface CommonOptions {
  /** authyd's gRPC address as a URL, e.g. `http://127.0.0.1:50051`. */
  baseUrl: string;
  /** A caller key from `authyd keys create`, sent as `authorization: Bearer <key>`. Not needed in the sandbox. */
  apiKey?: string;
  /** More interceptors, run after the one that adds the key. */
  interceptors?: Interceptor[];
}

/** An interceptor that sends `authorization: Bearer <apiKey>` on every call. */
export function bearerAuth(apiKey: string): Interceptor {
  if (apiKey === "") {
    throw new Error("bearerAuth: the API key is empty");
  }
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
}

export function interceptorsFor(options: CommonOptions): Interceptor[] {
  return [...(options.apiKey !== undefined ? [bearerAuth(options.apiKey)] : []), ...(options.interceptors ?? [])];
}

/** Both service clients on one transport. */
export interface AuthydClient {
  /** `authyd.v1.TwoFactorService`. */
  twoFactor: TwoFactorClient;
  /** `authyd.sandbox.v1.SandboxService`: only a sandbox authyd (no Authy key) serves it. */
  sandbox: SandboxClient;
  /** The transport both use. */
  transport: Transport;
}

export function clientsOn(transport: Transport): AuthydClient {
  return {
    twoFactor: createClient(TwoFactorService, transport),
    sandbox: createClient(SandboxService, transport),
    transport,
  };
}

/** Whether an approval state is final (APPROVED, DENIED or EXPIRED). */
export function isTerminal(state: ApprovalState): boolean {
  return (
    state === ApprovalState.APPROVED ||
    state === ApprovalState.DENIED ||
    state === ApprovalState.EXPIRED
  );
}

/**
 * Follows an approval with `WatchApproval`: yields the approval as it is now, then after every
 * state change, and ends after the terminal state (APPROVED, DENIED or EXPIRED). A stream that
 * ends before a terminal state throws (authyd closes open streams with UNAVAILABLE when it shuts
 * down: watch again to resume). Abort with `signal`.
 */
export async function* watchApproval(
  client: TwoFactorClient,
  approvalId: string,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<Approval, void, undefined> {
  for await (const message of client.watchApproval({ approvalId }, { signal: options.signal })) {
    const approval = message.approval;
    if (approval === undefined) {
      throw new ConnectError("WatchApproval sent a message without an approval", Code.Internal);
    }
    yield approval;
    if (isTerminal(approval.state)) {
      return;
    }
  }
  throw new ConnectError(`WatchApproval of ${approvalId} ended before a final state`, Code.Unavailable);
}

/** One rejected request field (google.rpc.BadRequest.FieldViolation). */
export interface FieldViolation {
  /** The request field, e.g. `email` or `details[ip]`. */
  field: string;
  /** What is wrong with it (never echoes the value). */
  description: string;
}

/** The google.rpc details authyd puts on an error. */
export interface AuthydErrorDetails {
  /** The gRPC status code. */
  code: Code;
  /** The message without the code prefix. */
  message: string;
  /** ErrorInfo.reason, a stable UPPER_SNAKE name such as `USER_NOT_FOUND`; absent if the error has no ErrorInfo. */
  reason?: string;
  /** ErrorInfo.domain: `authyd` for authyd's errors. */
  domain?: string;
  /** ErrorInfo.metadata. */
  metadata: Record<string, string>;
  /** BadRequest field violations (INVALID_ARGUMENT). */
  fieldViolations: FieldViolation[];
  /** RetryInfo.retry_delay in milliseconds, when the server says when to retry. */
  retryDelayMs?: number;
}

/**
 * Reads the google.rpc details (ErrorInfo, BadRequest, RetryInfo) that authyd sends in
 * `grpc-status-details-bin` from any error a client call threw.
 */
export function errorDetails(error: unknown): AuthydErrorDetails {
  const err = ConnectError.from(error);
  const info = err.findDetails(ErrorInfoSchema)[0];
  const retry = err.findDetails(RetryInfoSchema)[0];
  const delay = retry?.retryDelay;
  return {
    code: err.code,
    message: err.rawMessage,
    reason: info?.reason,
    domain: info?.domain,
    metadata: { ...(info?.metadata ?? {}) },
    fieldViolations: err
      .findDetails(BadRequestSchema)
      .flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description }))),
    retryDelayMs:
      delay === undefined ? undefined : Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6),
  };
}
