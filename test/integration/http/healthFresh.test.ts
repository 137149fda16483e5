/**
 * GET /api/health?fresh=true cannot throttle the mailbox: anyone with the
 * function key can call it, so fresh runs are coalesced (one in flight per
 * instance) and rate-limited (one per minimum interval); every other caller
 * gets the last result with its age. Logins and connections are counted by the
 * local SMTP server itself.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { loadConfig } from '../../../src/settings';
import { createHealthHandler, DEFAULT_HEALTH_FRESH_MIN_INTERVAL_MS } from '../../../src/http/health';
import { getRelay } from '../../../src/app/runtime';
import { createRelayComponents, type RelayComponents } from '../../../src/app/components';
import { diagnosticTarget } from '../../../src/app/diagnostics';
import { silentLogger } from '../../../src/core/log';
import { health } from '../../../functions/health';
import { httpInput, httpResponse } from '../../../functions/lib/http';
import { startLocalTenant, type LocalTenant } from '../../support/localSetup';

let tenant: LocalTenant;
const relays: RelayComponents[] = [];

before(async () => {
  tenant = await startLocalTenant();
  Object.assign(process.env, tenant.settings());
});

after(async () => {
  await Promise.resolve()
    .then(() => getRelay().close())
    .catch(() => undefined);
  for (const relay of relays) relay.sender.close();
  await tenant?.close();
});

const FRESH = new HttpRequest({ method: 'GET', url: 'http://localhost/api/health?fresh=true', query: { fresh: 'true' } });

function body(response: HttpResponseInit): Record<string, any> {
  return response.jsonBody as Record<string, any>;
}

function server() {
  return { logins: tenant.smtpServer.authAttempts, connections: tenant.smtpServer.connectionsOpened, tokens: tenant.tokenServer.tokenRequests };
}

test('20 concurrent fresh calls make one SMTP login on one connection, and every answer carries its age', async () => {
  const before = server();
  const answers = await Promise.all(Array.from({ length: 20 }, () => health(FRESH)));
  const after = server();
  assert.equal(after.logins - before.logins, 1, 'one login for the whole burst');
  assert.equal(after.connections - before.connections, 1, 'one SMTP connection: the login also proves the server is reachable and the TLS works');
  const checkedAt = new Set(answers.map((answer) => body(answer).checkedAt));
  assert.equal(checkedAt.size, 1, 'all callers got the same run');
  for (const answer of answers) {
    assert.equal(answer.status, 200, JSON.stringify(answer.jsonBody));
    assert.equal(body(answer).status, 'healthy');
    const age = body(answer).ageSeconds;
    assert.ok(Number.isInteger(age) && age >= 0, `ageSeconds ${age}`);
    assert.equal((answer.headers as Record<string, string>).age, String(age), 'the Age header says the same');
  }
});

test('a fresh call within the minimum interval is answered with the last result, its age and when a fresh run is next allowed, without a login', async () => {
  const before = server();
  const answer = await health(FRESH);
  assert.deepEqual(server(), before, 'no login, no connection, no token request');
  assert.equal(answer.status, 200);
  assert.equal(body(answer).fromCache, true);
  assert.ok(Number.isInteger(body(answer).ageSeconds));
  const next = Date.parse(body(answer).nextFreshAt);
  assert.equal(next, Date.parse(body(answer).checkedAt) + DEFAULT_HEALTH_FRESH_MIN_INTERVAL_MS);
});

test('once the minimum interval has passed, a fresh call checks anew: one more login and a new token', async () => {
  const relay = createRelayComponents(loadConfig(tenant.settings()), silentLogger);
  relays.push(relay);
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const handler = createHealthHandler(() => diagnosticTarget(() => relay), { now: () => clock });
  const call = async () => httpResponse(await handler(httpInput(FRESH)));

  let before = server();
  await call();
  assert.equal(server().logins - before.logins, 1);

  before = server();
  clock += DEFAULT_HEALTH_FRESH_MIN_INTERVAL_MS - 1;
  const limited = await call();
  assert.deepEqual(server(), before, 'still inside the interval');
  assert.equal(body(limited).ageSeconds, Math.floor((DEFAULT_HEALTH_FRESH_MIN_INTERVAL_MS - 1) / 1000));
  assert.equal(body(limited).nextFreshAt, new Date(clock + 1).toISOString());

  clock += 1;
  const again = await call();
  assert.equal(server().logins - before.logins, 1, 'a new login');
  assert.equal(server().tokens - before.tokens, 1, 'a new token from the endpoint');
  assert.equal(body(again).fromCache, false);
  assert.equal(body(again).ageSeconds, 0);
  assert.equal(body(again).nextFreshAt, undefined);
});

test('while a fresh run is in flight, plain calls share it instead of starting their own', async () => {
  const relay = createRelayComponents(loadConfig(tenant.settings()), silentLogger);
  relays.push(relay);
  const handler = createHealthHandler(() => diagnosticTarget(() => relay));
  const plain = new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' });
  const before = server();
  const answers = await Promise.all([handler(httpInput(FRESH)), ...Array.from({ length: 5 }, () => handler(httpInput(plain)))]);
  assert.equal(server().logins - before.logins, 1);
  assert.equal(new Set(answers.map((answer) => (answer.jsonBody as Record<string, unknown>).checkedAt)).size, 1);
});
