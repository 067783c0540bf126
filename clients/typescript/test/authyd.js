// Test support: a sandbox authyd for the suite. With AUTHYD_GRPC_ADDR set, the tests use that
// server (it must be a sandbox: no Authy key); otherwise they start `$AUTHYD_BIN serve` on port 0
// with a fresh --data-dir and read the bound address from its `grpc listening on ADDR` log line.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const STARTUP_TIMEOUT_MS = 60_000;

export async function startAuthyd() {
  if (process.env.AUTHYD_GRPC_ADDR) {
    return { addr: process.env.AUTHYD_GRPC_ADDR, stop: async () => {} };
  }
  const bin = resolve(ROOT, process.env.AUTHYD_BIN ?? "target/debug/authyd");
  const dataDir = mkdtempSync(join(tmpdir(), "authyd-ts-client-"));
  const child = spawn(
    bin,
    ["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir", dataDir],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, AUTHYD_AUTHY_API_KEY: "" } },
  );
  let log = "";
  const addr = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`authyd did not log its address in time:\n${log}`)), STARTUP_TIMEOUT_MS);
    child.on("error", (e) => { clearTimeout(timer); fail(e); });
    child.on("exit", (code) => { clearTimeout(timer); fail(new Error(`authyd exited (${code}) before listening:\n${log}`)); });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /grpc listening on (\S+)/.exec(log);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
  });
  child.removeAllListeners("exit");
  const exited = new Promise((done) => child.once("exit", done));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit); // never leave a server behind, even when the suite crashes
  return {
    addr,
    log: () => log,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
