/**
 * The monitor timer's logic on the real stack: Azurite for its state, the
 * local token endpoint and SMTP server, the KeyVaultDouble, an HTTPS webhook
 * receiver, and alert e-mails sent through the relay itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { LOCAL_CLIENT_ID } from '../../../local/stack';
import { monitorOf } from '../../../src/app/monitor';
import {
  queueMessage,
  recordingLogger,
  startRelayVaultStack,
  SECRET_NAME,
  type RelayVaultStack,
  type VaultRelay as Relay,
} from '../../support/relayVaultStack';

const DAY = 86_400_000;
const OPS = 'ops@example.org';

let env: RelayVaultStack;
let webhook: https.Server;
const hooks: Array<{ text: string; alert: string; severity: string }> = [];

before(async () => {
  env = await startRelayVaultStack();
  webhook = https.createServer({ cert: env.stack.certs.certPem, key: env.stack.certs.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      hooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200).end('1');
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', () => resolve()));
});

after(async () => {
  webhook.closeAllConnections();
  await new Promise((resolve) => webhook.close(resolve));
  await env.close();
});

function webhookUrl(): string {
  return `https://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/relay-alerts`;
}

function alertMailsTo(address: string): string[] {
  return env.stack.smtpServer.received
    .filter((mail) => mail.envelope.rcptTo.includes(address))
    .map((mail) => /^Subject: (.*)$/m.exec(mail.raw.toString('utf8'))?.[1] ?? '');
}

/** A relay with alert channels; the same settings give a monitor sharing its state (as after a restart). */
function relayWithAlerts(): { relay: Relay; settings: Record<string, string | undefined> } {
  const settings = env.settings({ ALERT_EMAIL_TO: OPS, ALERT_WEBHOOK_URL: webhookUrl() });
  const relay = env.relay(settings);
  return { relay, settings };
}

function setCurrentSecret(expiresOn?: Date): string {
  return env.vault.setSecret(SECRET_NAME, { value: env.stack.clientSecret, ...(expiresOn ? { expiresOn } : {}) });
}

describe('secret monitor', () => {
  it('pre-warms: after a tick the next message needs neither Key Vault nor the token endpoint', async () => {
    setCurrentSecret(new Date(Date.now() + 180 * DAY));
    const relay = env.relay();
    const report = await monitorOf(relay.parts).run(recordingLogger());
    assert.equal(report.tokenOk, true);
    assert.equal(report.smtpOk, true);
    assert.deepEqual(report.raised, []);
    const reads = env.vault.secretReads;
    const tokenRequests = env.stack.tokenServer.tokenRequests;
    const outcome = await relay.handleQueueMessage(queueMessage('after idle'), { dequeueCount: 1 }, recordingLogger());
    assert.equal(outcome.status, 'delivered');
    assert.equal(env.vault.secretReads - reads, 0, 'secret already cached');
    assert.equal(env.stack.tokenServer.tokenRequests - tokenRequests, 0, 'token already cached');
  });

  it('raises each expiry alert once per window and secret version, also after a restart, on every channel', async () => {
    const version = setCurrentSecret(new Date(Date.now() + 20 * DAY));
    const { relay } = relayWithAlerts();
    const hooksBefore = hooks.length;
    const mailsBefore = alertMailsTo(OPS).length;
    const log = recordingLogger();

    const first = await monitorOf(relay.parts).run(log);
    assert.deepEqual(first.raised, [`secret:expiry_warning:${version}`]);
    assert.match(
      log.lines.join('\n'),
      /warn ALERT secret_expiry_warning \(warning\).*"event":"monitor\.alert","alert":"secret_expiry_warning","severity":"warning"/,
    );
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, [], 'not repeated on the next tick');
    // A new instance (restart, scale-out) reads the same state from the storage account.
    const restarted = env.relay(env.settings({ ...relaySettingsOf(relay) }));
    assert.deepEqual((await monitorOf(restarted.parts).run(recordingLogger())).raised, [], 'not repeated after a restart');

    // 14 days later: 6 days left, inside the critical window.
    const later = () => Date.now() + 14 * DAY;
    assert.deepEqual((await monitorOf(relay.parts, { now: later }).run(recordingLogger())).raised, [`secret:expiry_critical:${version}`]);
    assert.deepEqual((await monitorOf(relay.parts, { now: later }).run(recordingLogger())).raised, []);

    const newHooks = hooks.slice(hooksBefore);
    assert.deepEqual(
      newHooks.map((hook) => [hook.alert, hook.severity]),
      [
        ['secret_expiry_warning', 'warning'],
        ['secret_expiry_critical', 'critical'],
      ],
    );
    assert.match(newHooks[0]!.text, /expires in 20 days/);
    assert.match(newHooks[0]!.text, /What to do: Create a new client secret/);
    const mails = alertMailsTo(OPS).slice(mailsBefore);
    assert.equal(mails.length, 2);
    assert.match(mails[0]!, /warning/);
    assert.match(mails[1]!, /critical/);
  });

  it('logs a rotation as an event, proves the new version with a token and raises nothing for a healthy one', async () => {
    setCurrentSecret(new Date(Date.now() + 20 * DAY));
    const { relay } = relayWithAlerts();
    await monitorOf(relay.parts).run(recordingLogger());
    const rotated = setCurrentSecret(new Date(Date.now() + 200 * DAY));
    const tokenRequests = env.stack.tokenServer.tokenRequests;
    const log = recordingLogger();
    const report = await monitorOf(relay.parts).run(log);
    assert.equal(report.rotationDetected, true);
    assert.equal(report.secretVersion, rotated);
    assert.deepEqual(report.raised, []);
    assert.deepEqual(report.active, []);
    assert.equal(env.stack.tokenServer.tokenRequests - tokenRequests, 1, 'a token was issued with the new version');
    const text = log.lines.join('\n');
    assert.match(text, new RegExp(`"event":"monitor\\.secret_rotated".*"version":"${rotated}"`));
    assert.match(text, /"event":"monitor\.rotation_verified"/);
  });

  it('says that a secret without expiry still expires in Entra, once', async () => {
    const version = setCurrentSecret();
    const { relay } = relayWithAlerts();
    const hooksBefore = hooks.length;
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, [`secret:no_expiry:${version}`]);
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, []);
    assert.equal(hooks.length - hooksBefore, 1);
    assert.match(hooks.at(-1)!.text, /still expires/);
  });

  it('raises a disabled secret once, clears it when fixed, and raises it again if it comes back', async () => {
    setCurrentSecret(new Date(Date.now() + 180 * DAY));
    const { relay } = relayWithAlerts();
    await monitorOf(relay.parts).run(recordingLogger());
    env.vault.setEnabled(SECRET_NAME, false);
    try {
      assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, ['vault:disabled']);
      assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, []);
      env.vault.setEnabled(SECRET_NAME, true);
      assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).active, []);
      env.vault.setEnabled(SECRET_NAME, false);
      assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, ['vault:disabled']);
    } finally {
      env.vault.setEnabled(SECRET_NAME, true);
    }
  });

  it('raises a failing token request once while it lasts, keeps the cached token, and again on a recurrence', async () => {
    setCurrentSecret(new Date(Date.now() + 180 * DAY));
    const { relay } = relayWithAlerts();
    await monitorOf(relay.parts).run(recordingLogger());
    const expired = {
      status: 401,
      body: { error: 'invalid_client', error_description: "AADSTS7000222: The provided client secret keys for app '…' are expired.", error_codes: [7000222] },
    };
    env.stack.tokenServer.failNext(expired);
    const log = recordingLogger();
    const failed = await monitorOf(relay.parts).run(log);
    assert.equal(failed.tokenOk, false);
    assert.deepEqual(failed.raised, ['token:failed:expired_client_secret']);
    assert.match(log.lines.join('\n'), /error ALERT token_acquisition_failed \(critical\)/);
    const tokenRequests = env.stack.tokenServer.tokenRequests;
    assert.equal((await relay.handleQueueMessage(queueMessage('still sent'), { dequeueCount: 1 }, recordingLogger())).status, 'delivered');
    assert.equal(env.stack.tokenServer.tokenRequests, tokenRequests, 'the cached token kept working');

    env.stack.tokenServer.failNext(expired);
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, [], 'not repeated while it lasts');
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).active, [], 'cleared once tokens come again');
    env.stack.tokenServer.failNext(expired);
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, ['token:failed:expired_client_secret']);
  });

  it('raises an unreachable vault as a warning, and the relay keeps sending with its cached secret', async () => {
    setCurrentSecret(new Date(Date.now() + 180 * DAY));
    const relay = env.relay();
    await monitorOf(relay.parts).run(recordingLogger());
    env.vault.dropNext(1000);
    try {
      const report = await monitorOf(relay.parts).run(recordingLogger());
      assert.deepEqual(report.raised, ['vault:unreadable:secret_store_unavailable']);
      assert.equal(report.tokenOk, true, 'the cached secret still signs in');
      assert.equal((await relay.handleQueueMessage(queueMessage(), { dequeueCount: 1 }, recordingLogger())).status, 'delivered');
    } finally {
      env.vault.dropNext(-1000);
    }
  });

  it('never puts the secret or the webhook URL in a log line', async () => {
    setCurrentSecret(new Date(Date.now() + 3 * DAY));
    const { relay } = relayWithAlerts();
    const log = recordingLogger();
    env.stack.tokenServer.setClientSecret(LOCAL_CLIENT_ID, env.stack.clientSecret);
    await monitorOf(relay.parts).run(log);
    const text = log.lines.join('\n');
    assert.ok(!text.includes(env.stack.clientSecret));
    assert.ok(!text.includes('/hooks/relay-alerts'));
  });
});

/** The settings that make a second relay share the first one's monitor state. */
function relaySettingsOf(relay: Relay): Record<string, string> {
  return {
    MONITOR_STATE_CONTAINER: relay.config.monitor.stateContainer,
    RELAY_QUEUE_NAME: relay.config.queue.queueName,
    RELAY_DEADLETTER_QUEUE_NAME: relay.config.queue.deadLetterQueueName,
    RELAY_DEADLETTER_CONTAINER: relay.config.queue.deadLetterContainerName,
  };
}
