// Runs the README's example (the ```ts block between <!-- readme-example --> markers) as written:
// type-checks it with tsc against the built package, runs it against a live sandbox authyd with
// AUTHYD_GRPC_ADDR set, and checks what the README says it prints.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startAuthyd } from "./authyd.js";

const run = promisify(execFile);
const PKG = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Inside the package, so that `import … from "@authyd/client"` resolves to this package itself.
const WORK = join(PKG, ".readme-example");

export function readmeExample(text) {
  const m = /<!-- readme-example -->\s*```ts\n([\s\S]*?)```\s*<!-- \/readme-example -->/.exec(text);
  if (!m) throw new Error("README.md has no ```ts block between <!-- readme-example --> markers");
  return m[1];
}

let server;
before(async () => { server = await startAuthyd(); });
after(async () => { await server?.stop(); rmSync(WORK, { recursive: true, force: true }); });

test("the README example compiles and prints what the README says", async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK);
  writeFileSync(join(WORK, "example.ts"), readmeExample(readFileSync(join(PKG, "README.md"), "utf8")));
  const tsc = join(PKG, "node_modules", ".bin", "tsc");
  await run(tsc, [
    "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--strict",
    "--types", "node", "--skipLibCheck", "--ignoreConfig", "--rootDir", WORK, "--outDir", WORK, join(WORK, "example.ts"),
  ], { cwd: PKG }).catch((e) => assert.fail(`tsc rejected the README example:\n${e.stdout}${e.stderr}`));
  const { stdout } = await run(process.execPath, [join(WORK, "example.js")], {
    env: { ...process.env, AUTHYD_GRPC_ADDR: server.addr }, timeout: 30_000,
  });
  assert.deepEqual(stdout.trim().split("\n"), ["valid: true", "PENDING", "APPROVED", "USER_NOT_FOUND"]);
});
