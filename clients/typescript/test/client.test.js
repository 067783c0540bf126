// @authyd/client (the built dist/) against a live sandbox authyd, over gRPC and over gRPC-Web.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ApprovalState,
  Code,
  ConnectError,
  createAuthydClient,
  errorDetails,
  watchApproval,
} from "@authyd/client";
import { startAuthyd } from "./authyd.js";

let server;
before(async () => { server = await startAuthyd(); });
after(async () => { await server?.stop(); });

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("the call succeeded but should have failed");
}

for (const transport of ["grpc", "grpc-web"]) {
  describe(`over ${transport}`, () => {
    const userId = `ts-${transport}-alice`;
    let client;
    before(() => { client = createAuthydClient({ baseUrl: `http://${server.addr}`, transport }); });

    test("Enroll, then GetUser", async () => {
      const { user } = await client.twoFactor.enroll({
        userId, email: "alice@example.com", phoneNumber: "201-555-0123", countryCode: 1,
      });
      assert.equal(user.userId, userId);
      assert.ok(user.authyId > 0n, `authyId ${user.authyId}`);
      assert.equal(user.maskedPhone, "XXX-XXX-0123");
      const got = await client.twoFactor.getUser({ userId });
      assert.equal(got.user.countryCode, 1);
      assert.equal(got.user.authyId, user.authyId);
    });

    test("SendSms (force) → sandbox GetCodes → VerifyToken: right code valid, wrong code not", async () => {
      const sent = await client.twoFactor.sendSms({ userId, force: true });
      assert.equal(sent.sent, true);
      const { smsCode } = await client.sandbox.getCodes({ userId });
      assert.match(smsCode, /^\d{6,12}$/);
      const wrong = smsCode === "0000000" ? "1111111" : "0000000";
      assert.equal((await client.twoFactor.verifyToken({ userId, token: wrong })).valid, false);
      assert.equal((await client.twoFactor.verifyToken({ userId, token: smsCode })).valid, true);
    });

    test("RequestApproval + watchApproval: PENDING, then APPROVED after AnswerApproval", async () => {
      const { approval } = await client.twoFactor.requestApproval({
        userId, message: "Log in to example.com", details: { ip: "203.0.113.7" }, requestId: `login-${transport}`,
      });
      assert.equal(approval.state, ApprovalState.PENDING);
      assert.equal(approval.details.ip, "203.0.113.7");
      const states = [];
      for await (const a of watchApproval(client.twoFactor, approval.approvalId)) {
        assert.equal(a.approvalId, approval.approvalId);
        states.push(a.state);
        if (a.state === ApprovalState.PENDING) {
          await client.sandbox.answerApproval({ approvalId: approval.approvalId, approve: true });
        }
      }
      assert.deepEqual(states, [ApprovalState.PENDING, ApprovalState.APPROVED]);
      const { approval: now } = await client.twoFactor.getApproval({ approvalId: approval.approvalId });
      assert.equal(now.state, ApprovalState.APPROVED);
    });

    test("INVALID_ARGUMENT carries BadRequest field violations", async () => {
      const err = await rejection(client.twoFactor.enroll({
        userId: `${userId}-bad`, email: "bob@", phoneNumber: "12", countryCode: 1,
      }));
      assert.ok(err instanceof ConnectError);
      const details = errorDetails(err);
      assert.equal(details.code, Code.InvalidArgument);
      assert.equal(details.domain, "authyd");
      assert.deepEqual(details.fieldViolations.map((v) => v.field).sort(), ["email", "phone_number"]);
      assert.ok(details.fieldViolations.every((v) => v.description.length > 0));
    });

    test("NOT_FOUND carries ErrorInfo USER_NOT_FOUND", async () => {
      const details = errorDetails(await rejection(client.twoFactor.getUser({ userId: `${userId}-nobody` })));
      assert.equal(details.code, Code.NotFound);
      assert.equal(details.reason, "USER_NOT_FOUND");
      assert.equal(details.domain, "authyd");
      assert.deepEqual(details.fieldViolations, []);
    });
  });
}

test("apiKey is sent as authorization: Bearer before the caller's interceptors run", async () => {
  const seen = [];
  const { twoFactor } = createAuthydClient({
    baseUrl: `http://${server.addr}`,
    apiKey: "k-123",
    interceptors: [(next) => (req) => { seen.push(req.header.get("authorization")); return next(req); }],
  });
  const details = errorDetails(await rejection(twoFactor.getUser({ userId: "ts-key-nobody" })));
  assert.equal(details.code, Code.NotFound); // the sandbox takes any caller
  assert.deepEqual(seen, ["Bearer k-123"]);
});

test("watchApproval of a finished approval yields it once and ends (DENIED)", async () => {
  const { twoFactor, sandbox } = createAuthydClient({ baseUrl: `http://${server.addr}` });
  const userId = "ts-denied";
  await twoFactor.enroll({ userId, email: "d@example.com", phoneNumber: "201-555-0144", countryCode: 1 });
  const { approval } = await twoFactor.requestApproval({ userId, message: "Wire $500", requestId: "wire-1" });
  await sandbox.answerApproval({ approvalId: approval.approvalId, approve: false });
  // GetApproval asks Authy (the simulator) now, so authyd has stored DENIED before the watch.
  const { approval: denied } = await twoFactor.getApproval({ approvalId: approval.approvalId });
  assert.equal(denied.state, ApprovalState.DENIED);
  const states = [];
  for await (const a of watchApproval(twoFactor, approval.approvalId)) states.push(a.state);
  assert.deepEqual(states, [ApprovalState.DENIED]);
});

test("@authyd/client/web (connect-web, gRPC-Web over fetch) runs a call and decodes its error", async () => {
  const web = await import("@authyd/client/web");
  const { twoFactor, sandbox } = web.createAuthydClient({ baseUrl: `http://${server.addr}` });
  const userId = "ts-web-alice";
  await twoFactor.enroll({ userId, email: "w@example.com", phoneNumber: "201-555-0166", countryCode: 1 });
  await twoFactor.sendSms({ userId, force: true });
  const { smsCode } = await sandbox.getCodes({ userId });
  assert.equal((await twoFactor.verifyToken({ userId, token: smsCode })).valid, true);
  const details = web.errorDetails(await rejection(twoFactor.getUser({ userId: "ts-web-nobody" })));
  assert.equal(details.code, web.Code.NotFound);
  assert.equal(details.reason, "USER_NOT_FOUND");
});
