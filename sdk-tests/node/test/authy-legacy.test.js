'use strict';

// npm `authy` 1.4.0 (evilpacket/node-authy) against `authyd sim`: require('authy')(key, baseUrl).
// This SDK exercises the legacy wire format: the API key in the `api_key` QUERY parameter (no
// header), POST bodies form-urlencoded with bracket names (`user[email]=...`, `details[k]=...`,
// `logos[0][res]=...`), and its non-200 answers delivered as `callback(body)`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const authyFactory = require('authy');
const { Client } = require('authy-client');
const { startReceiver, startSim, uniquePhone, otherCode } = require('../lib/harness');

/** node-authy calls back (err, res); non-200 bodies arrive as `err`. Resolve to { err, res }. */
function settle(fn, ...args) {
  return new Promise((resolve) => fn(...args, (err, res) => resolve({ err, res })));
}

async function ok(fn, ...args) {
  const { err, res } = await settle(fn, ...args);
  assert.equal(err, null, `expected success, got error: ${JSON.stringify(err)}`);
  return res;
}

describe('authy (node-authy) 1.4.0', () => {
  let receiver;
  let sim;
  let authy;

  before(async () => {
    receiver = await startReceiver();
    sim = await startSim({ callbackUrl: receiver.url, callbackMethod: 'POST' });
    authy = authyFactory(sim.apiKey, sim.baseUrl);
  });

  after(async () => {
    if (sim) await sim.stop();
    if (receiver) await receiver.close();
  });

  const m = (name) => authy[name].bind(authy);

  async function register(phone = uniquePhone()) {
    const res = await ok(m('register_user'), `l${phone}@example.com`, phone, '1', false);
    assert.equal(res.success, true);
    assert.equal(res.message, 'User created successfully.');
    assert.ok(Number.isInteger(res.user.id) && res.user.id > 0, JSON.stringify(res));
    return { authyId: res.user.id, phone };
  }

  it('register_user (form body, key in query): same phone gives the same id', async () => {
    const { authyId, phone } = await register();
    const again = await ok(m('register_user'), `l${phone}@example.com`, phone, '1', false);
    assert.equal(again.user.id, authyId);
  });

  it('register_user with the 3-argument form (country defaults to 1, install link true)', async () => {
    const phone = uniquePhone();
    const res = await ok(m('register_user'), `d${phone}@example.com`, phone);
    assert.ok(Number.isInteger(res.user.id));
  });

  it('register_user with an invalid email answers 400 / 60027 with the field error', async () => {
    const { err } = await settle(m('register_user'), 'nope', uniquePhone(), '1', false);
    assert.ok(err, 'expected an error body');
    assert.equal(err.success, false);
    assert.equal(err.error_code, '60027');
    assert.equal(err.errors.email, 'is invalid');
  });

  it('request_sms (force) then verify with the simulator code', async () => {
    const { authyId, phone } = await register();
    const sms = await ok(m('request_sms'), authyId, true);
    assert.equal(sms.success, true);
    assert.equal(sms.message, 'SMS token was sent');
    assert.ok(sms.cellphone.endsWith(phone.slice(-2)), sms.cellphone);
    const { sms_code: code } = await sim.codes(authyId);
    const res = await ok(m('verify'), authyId, code, true);
    assert.equal(res.token, 'is valid');
    assert.equal(res.message, 'Token is valid.');
  });

  it('verify without force, with the TOTP code', async () => {
    const { authyId } = await register();
    const { totp_code: code } = await sim.codes(authyId);
    const res = await ok(m('verify'), authyId, code);
    assert.equal(res.token, 'is valid');
  });

  it('verify with a wrong code answers 401 / 60020', async () => {
    const { authyId } = await register();
    await ok(m('request_sms'), authyId, true);
    const codes = await sim.codes(authyId);
    const { err, res } = await settle(m('verify'), authyId, otherCode(codes.sms_code, codes.totp_code), true);
    assert.equal(res, undefined);
    assert.equal(err.message, 'Token is invalid');
    assert.equal(err.token, 'is invalid');
    assert.equal(err.error_code, '60020');
  });

  it('request_call (force)', async () => {
    const { authyId } = await register();
    const res = await ok(m('request_call'), authyId, true);
    assert.equal(res.message, 'Call started...');
  });

  it('user_status', async () => {
    const { authyId, phone } = await register();
    const res = await ok(m('user_status'), authyId);
    assert.equal(res.message, 'User status.');
    assert.equal(res.status.authy_id, authyId);
    assert.ok(res.status.phone_number.endsWith(phone.slice(-4)), res.status.phone_number);
  });

  it('delete_user (POST /users/delete/{id}), then user_status answers 404 / 60026', async () => {
    const { authyId } = await register();
    const res = await ok(m('delete_user'), authyId);
    assert.equal(res.success, true);
    const { err } = await settle(m('user_status'), authyId);
    assert.ok(err, 'expected an error body');
    assert.equal(err.error_code, '60026');
    assert.equal(err.message, 'User not found.');
  });

  it('an invalid api_key query parameter answers 401 / 60001', async () => {
    const { authyId } = await register();
    const bad = authyFactory('x'.repeat(32), sim.baseUrl);
    const { err } = await settle(bad.user_status.bind(bad), authyId);
    assert.ok(err, 'expected an error body');
    assert.equal(err.error_code, '60001');
  });

  it('send_approval_request (form-encoded details/logos) -> check_approval_status -> signed callback', async () => {
    const { authyId } = await register();
    const details = { location: 'Zürich ✓', note: 'Ä & B / C|D + 100% = ok' };
    const res = await ok(m('send_approval_request'), authyId,
      { message: 'Legacy approval ✓', details, seconds_to_expire: 300 },
      { ip_address: '10.0.0.7' },
      [{ res: 'default', url: 'https://example.com/a.png' }, { res: 'low', url: 'https://example.com/b.png' }]);
    const id = res.approval_request.uuid;
    assert.equal(typeof id, 'string');
    const pending = await ok(m('check_approval_status'), id);
    assert.equal(pending.approval_request.status, 'pending');
    await sim.answer(id, 'approve');
    const approved = await ok(m('check_approval_status'), id);
    assert.equal(approved.approval_request.status, 'approved');

    // The form-encoded request must have produced the same nested details the JSON SDKs produce.
    const cb = await receiver.waitFor((c) => c.method === 'POST' && c.body.includes(id), { what: `POST callback for ${id}` });
    const body = JSON.parse(cb.body);
    assert.deepEqual(body.approval_request.transaction.details, details);
    assert.deepEqual(body.approval_request.transaction.hidden_details, { ip_address: '10.0.0.7' });
    assert.equal(body.approval_request.transaction.message, 'Legacy approval ✓');
    assert.deepEqual(body.approval_request.logos,
      [{ res: 'default', url: 'https://example.com/a.png' }, { res: 'low', url: 'https://example.com/b.png' }]);
    const request = { body, headers: cb.headers, method: 'POST', protocol: 'http', url: cb.url };
    const verifier = new Client({ key: sim.apiKey }, { host: sim.baseUrl });
    try {
      assert.equal(await verifier.verifyCallback(request), request);
    } catch (e) {
      throw new Error(`authy-client verifyCallback rejected the callback: ${e.message} errors=${JSON.stringify(e.errors)}`.slice(0, 3000));
    }
  });
});
