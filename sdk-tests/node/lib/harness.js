'use strict';

// Test harness: start `authyd sim`, receive its OneTouch callbacks, talk to its control API.
// Follows the contract in ../shared/design.md ("Command-line and test-facing contract").

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const http = require('node:http');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]/g;
// `\S+` per the contract, minus JSON punctuation in case the log format is JSON
const LISTEN_RE = /sim listening on ([^\s"',}]+)/;
const START_TIMEOUT_MS = Number(process.env.SDK_TESTS_SIM_START_TIMEOUT || 30) * 1000;
const CALLBACK_PATH = '/authy/callback';

function authydBin() {
  const p = process.env.AUTHYD_BIN || 'target/debug/authyd';
  return path.isAbsolute(p) ? p : path.join(REPO_ROOT, p);
}

/** Poll `fn` (sync or async) until it returns a truthy value or the deadline passes. */
async function waitUntil(fn, { timeoutMs = 10000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A tiny HTTP server standing in for the customer's OneTouch callback endpoint. */
async function startReceiver() {
  const received = [];
  const waiters = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://placeholder');
      const item = {
        method: req.method,
        url: req.url, // path + query, as Express' req.url
        path: u.pathname,
        query: u.search.replace(/^\?/, ''),
        headers: req.headers, // node lower-cases header names
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(item);
      for (const w of waiters) w();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}${CALLBACK_PATH}`,
    path: CALLBACK_PATH,
    received,
    waitFor(predicate, { timeoutMs = 10000, what = 'callback' } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = received.find(predicate);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = received.map((r) => `${r.method} ${r.url} ${r.body.slice(0, 200)}`);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(seen)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
});

/** Start one `authyd sim` with a random API key; resolves once it logged its bound address. */
function startSim({ callbackUrl, callbackMethod = 'POST', appName = 'SDK Conformance App', appId = '424242' }) {
  const apiKey = crypto.randomBytes(16).toString('hex'); // 32 chars, like an Authy key
  const args = ['sim', '--addr', '127.0.0.1:0', '--api-key', apiKey, '--app-name', appName, '--app-id', appId,
    '--callback-url', callbackUrl, '--callback-method', callbackMethod];
  const child = spawn(authydBin(), args, {
    stdio: ['ignore', 'pipe', 'pipe'], // logs go to stderr; stdout is read too so nothing is missed
    env: { NO_COLOR: '1', ...process.env },
  });
  live.add(child);
  const log = [];
  const buffered = { out: '', err: '' };
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => fail(new Error(`authyd sim did not log 'sim listening on ADDR' within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    function fail(err) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      err.message += `\ncommand: ${authydBin()} ${args.join(' ')}\nstderr:\n${log.join('\n')}`;
      reject(err);
    }
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (!done) fail(new Error(`authyd sim exited early (code ${code}, signal ${signal})`));
    });
    // keep draining both pipes for the whole life of the process
    const onData = (which) => (chunk) => {
      buffered[which] += chunk.toString('utf8');
      let nl;
      while ((nl = buffered[which].indexOf('\n')) >= 0) {
        const line = buffered[which].slice(0, nl).replace(ANSI_RE, '');
        buffered[which] = buffered[which].slice(nl + 1);
        log.push(line);
        if (log.length > 400) log.shift();
        const m = !done && LISTEN_RE.exec(line);
        if (m) {
          done = true;
          clearTimeout(timer);
          resolve(new Sim({ child, apiKey, appName, appId, addr: m[1], log, callbackUrl, callbackMethod }));
        }
      }
    };
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
  });
}

class Sim {
  constructor(o) { Object.assign(this, o); this.baseUrl = `http://${o.addr}`; }

  stderrTail(n = 40) { return this.log.slice(-n).join('\n'); }

  async stop() {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  async control(method, p, body) {
    const res = await fetch(this.baseUrl + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = text;
    try { data = JSON.parse(text); } catch (_) { /* keep text */ }
    return { status: res.status, data };
  }

  async codes(authyId) {
    const { status, data } = await this.control('GET', `/__sim/users/${authyId}/codes`);
    if (status !== 200) throw new Error(`GET /__sim/users/${authyId}/codes -> ${status} ${JSON.stringify(data)}`);
    return data;
  }

  async answer(uuid, decision /* 'approve' | 'deny' */) {
    const { status, data } = await this.control('POST', `/__sim/approvals/${uuid}/${decision}`);
    if (status < 200 || status >= 300) throw new Error(`${decision} ${uuid} -> ${status} ${JSON.stringify(data)}`);
    return data;
  }

  registrationJwt(customUserId, { key = this.apiKey, lifetime = 300 } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ iss: this.appName, iat: now, exp: now + lifetime,
      context: { custom_user_id: customUserId, authy_app_id: this.appId } });
    const sig = crypto.createHmac('sha256', key).update(`${head}.${payload}`).digest('base64url');
    return `${head}.${payload}.${sig}`;
  }
}

let phoneCounter = 0;
/** A realistic, distinct US number per call that libphonenumber accepts (650-253-1xxx). */
function uniquePhone() {
  phoneCounter += 1;
  return `6502531${String(phoneCounter).padStart(3, '0')}`;
}

/** A 6-digit code equal to none of `codes`. */
function otherCode(...codes) {
  return ['000000', '111111', '222222', '333333'].find((c) => !codes.includes(c));
}

module.exports = { REPO_ROOT, authydBin, waitUntil, startReceiver, startSim, uniquePhone, otherCode, CALLBACK_PATH };
