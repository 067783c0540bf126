// Every call the page makes goes from the browser to authyd (another origin) through
// @authyd/client/web: unary calls, server streaming (WatchApproval) and google.rpc error details.
// Query string: ?authyd=<authyd's gRPC-Web base URL>&user=<user id>.
import { ApprovalState, Code, createAuthydClient, errorDetails, watchApproval } from "@authyd/client/web";

const params = new URLSearchParams(location.search);
const baseUrl = params.get("authyd") ?? "http://127.0.0.1:50051";
const userId = params.get("user") ?? "browser-user";
const { twoFactor, sandbox } = createAuthydClient({ baseUrl });

const results = document.querySelector<HTMLOListElement>("#results")!;
const button = document.querySelector<HTMLButtonElement>("#run")!;
document.querySelector("#base-url")!.textContent = baseUrl;

/** Writes one result as `<li data-step="STEP">VALUE</li>`. */
function record(step: string, value: string): void {
  const li = document.createElement("li");
  li.dataset.step = step;
  li.textContent = value;
  results.append(li);
}

async function run(): Promise<void> {
  const enrolled = await twoFactor.enroll({
    userId, email: `${userId}@example.com`, phoneNumber: "201-555-0123", countryCode: 1,
  });
  record("enroll", enrolled.user?.userId ?? "(no user)");

  record("send-sms", String((await twoFactor.sendSms({ userId, force: true })).sent));
  const { smsCode } = await sandbox.getCodes({ userId }); // what the phone received
  record("sms-code", smsCode);
  record("verify-valid", String((await twoFactor.verifyToken({ userId, token: smsCode })).valid));
  const wrong = smsCode.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  record("verify-wrong", String((await twoFactor.verifyToken({ userId, token: wrong })).valid));

  const { approval } = await twoFactor.requestApproval({ userId, message: "Log in from the browser?" });
  const approvalId = approval!.approvalId;
  const states: string[] = [];
  let answered: Promise<unknown> | undefined;
  for await (const a of watchApproval(twoFactor, approvalId)) {
    states.push(ApprovalState[a.state]);
    if (a.state === ApprovalState.PENDING && answered === undefined) {
      // The phone says yes a moment after the push arrives, while the stream stays open.
      answered = new Promise((ok) => setTimeout(ok, 200)).then(() =>
        sandbox.answerApproval({ approvalId, approve: true }),
      );
    }
  }
  await answered;
  record("approval-states", states.join(" "));

  try {
    await twoFactor.enroll({ userId: `${userId}-bad`, email: "not-an-email", phoneNumber: "201-555-0123", countryCode: 1 });
    record("bad-email", "accepted");
  } catch (e) {
    const details = errorDetails(e);
    record("bad-email-code", Code[details.code]);
    record("bad-email-reason", details.reason ?? "(no ErrorInfo)");
    record("bad-email-fields", details.fieldViolations.map((v) => v.field).join(" "));
  }
}

button.addEventListener("click", () => {
  button.disabled = true;
  results.replaceChildren();
  document.body.dataset.status = "running";
  run().then(
    () => (document.body.dataset.status = "done"),
    (e: unknown) => {
      const { code, message } = errorDetails(e);
      record("error", `${Code[code]}: ${message}`);
      document.body.dataset.status = "failed";
    },
  ).finally(() => (button.disabled = false));
});
button.disabled = false;
