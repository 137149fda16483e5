/**
 * GET /api/health through the registered handler against the local token
 * endpoint and SMTP server: every check reported with its duration, answers
 * reused for a while (the token from the shared cache, no new SMTP connection),
 * ?fresh=true runs them anew, and a broken step is named without stopping the
 * checks that do not depend on it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { loadConfig } from '../../../src/settings';
import { createHealthHandler } from '../../../src/http/health';
import { stepLabel } from '../../../src/core/setupSteps';
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

function get(query: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'GET', url: 'http://localhost/api/health', query });
}

function body(response: HttpResponseInit): Record<string, any> {
  return response.jsonBody as Record<string, any>;
}

function statuses(response: HttpResponseInit): Record<string, string> {
  return Object.fromEntries(body(response).checks.map((check: { id: string; status: string }) => [check.id, check.status]));
}

test('a good setup: 200, every check ok with its duration; then answered from the caches; fresh=true checks anew', async () => {
  const first = await health(get());
  assert.equal(first.status, 200, JSON.stringify(first.jsonBody));
  assert.equal(body(first).status, 'healthy');
  assert.equal(body(first).fromCache, false);
  assert.deepEqual(statuses(first), {
    configuration: 'ok',
    secret: 'ok',
    token: 'ok',
    token_claims: 'ok',
    smtp_connect: 'ok',
    smtp_tls: 'ok',
    smtp_auth: 'ok',
  });
  for (const check of body(first).checks) {
    assert.ok(Number.isInteger(check.durationMs) && check.durationMs >= 0, check.id);
    assert.equal(typeof check.title, 'string');
  }

  const tokenRequests = tenant.tokenServer.tokenRequests;
  const connections = tenant.smtpServer.connectionsOpened;
  const again = await health(get());
  assert.equal(body(again).fromCache, true);
  assert.equal(body(again).checkedAt, body(first).checkedAt);
  assert.equal(tenant.tokenServer.tokenRequests, tokenRequests, 'no new token request');
  assert.equal(tenant.smtpServer.connectionsOpened, connections, 'no new SMTP connection');

  const fresh = await health(get({ fresh: 'true' }));
  assert.equal(fresh.status, 200);
  assert.equal(body(fresh).fromCache, false);
  assert.equal(tenant.tokenServer.tokenRequests, tokenRequests + 1, 'a new token from the endpoint');
  assert.ok(tenant.smtpServer.connectionsOpened > connections, 'a new SMTP connection');
  assert.ok(!JSON.stringify(fresh.jsonBody).includes('eyJ'), 'no token in the answer');
});

test('only GET is answered', async () => {
  const response = await health(new HttpRequest({ method: 'POST', url: 'http://localhost/api/health' }));
  assert.equal(response.status, 405);
});

/** A health handler over a relay of its own, built from `overrides` (the process relay stays as it is). */
async function healthOf(overrides: Record<string, string | undefined>): Promise<HttpResponseInit> {
  const relay = createRelayComponents(loadConfig(tenant.settings(overrides)), silentLogger);
  relays.push(relay);
  const handler = createHealthHandler(() => diagnosticTarget(() => relay));
  return httpResponse(await handler(httpInput(get())));
}

test('535 5.7.3 with a good token: 503, the Exchange steps named, the other checks still reported', async () => {
  const response = await healthOf({ SMTP_USER: 'not-granted@contoso.example' });
  assert.equal(response.status, 503);
  assert.equal(body(response).status, 'unhealthy');
  assert.deepEqual(statuses(response), {
    configuration: 'ok',
    secret: 'ok',
    token: 'ok',
    token_claims: 'ok',
    smtp_connect: 'ok',
    smtp_tls: 'ok',
    smtp_auth: 'failed',
  });
  const auth = body(response).checks.find((check: { id: string }) => check.id === 'smtp_auth');
  assert.equal(auth.finding.diagnosis, 'exchange_access_missing');
  assert.ok(auth.finding.steps.includes(stepLabel('servicePrincipal')));
  assert.ok(auth.finding.steps.includes(stepLabel('mailboxPermission')));
  assert.match(auth.finding.fix, /up to an hour/);
  assert.match(auth.finding.providerReply, /^535 5\.7\.3/);
});

test('SMTP unreachable: the token checks still run, the SMTP checks that need a connection are skipped', async () => {
  const response = await healthOf({ SMTP_PORT: '1' });
  assert.equal(response.status, 503);
  const checks = statuses(response);
  assert.equal(checks.token, 'ok');
  assert.equal(checks.token_claims, 'ok');
  assert.equal(checks.smtp_connect, 'failed');
  assert.equal(checks.smtp_tls, 'skipped');
  assert.equal(checks.smtp_auth, 'skipped');
  const connect = body(response).checks.find((check: { id: string }) => check.id === 'smtp_connect');
  assert.equal(connect.finding.diagnosis, 'smtp_unreachable');
  assert.ok(connect.finding.steps.includes(stepLabel('emailServer')));
});

test('bad settings: 503 naming the settings, everything else skipped', async () => {
  const handler = createHealthHandler(() =>
    diagnosticTarget(() => {
      const config = loadConfig(tenant.settings({ OAUTH2_CLIENT_ID: 'my-app', SMTP_PORT: 'abc' }));
      return createRelayComponents(config, silentLogger);
    }),
  );
  const response = httpResponse(await handler(httpInput(get())));
  assert.equal(response.status, 503);
  const [configuration, ...rest] = body(response).checks;
  assert.equal(configuration.status, 'failed');
  assert.equal(configuration.finding.diagnosis, 'settings_invalid');
  assert.match(configuration.finding.observed, /OAUTH2_CLIENT_ID/);
  assert.match(configuration.finding.observed, /SMTP_PORT/);
  assert.ok(rest.every((check: { status: string }) => check.status === 'skipped'));
});

test("the process health reports the relay's activity counters", async () => {
  const activity = body(await health(get())).activity;
  for (const counter of ['delivered', 'retried', 'deadLettered', 'throttled', 'duplicatesSkipped', 'tokenRequests', 'smtpConnectionsOpened', 'pausedForMs']) {
    assert.equal(typeof activity?.[counter], 'number', counter);
  }
  assert.ok(activity.tokenRequests >= 1, "the checks fetched a token through the relay's cache");
});

test('activity is read anew on every call, even when the checks come from the cache', async () => {
  const counters = { delivered: 0 };
  const relay = createRelayComponents(loadConfig(tenant.settings()), silentLogger);
  relays.push(relay);
  const handler = createHealthHandler(() => diagnosticTarget(() => relay), { activity: () => ({ ...counters }) });
  const first = httpResponse(await handler(httpInput(get())));
  counters.delivered = 7;
  const second = httpResponse(await handler(httpInput(get())));
  assert.equal(body(first).activity.delivered, 0);
  assert.equal(body(second).fromCache, true);
  assert.equal(body(second).activity.delivered, 7);
});
