/**
 * More of the provider's replies classified (issue 10, point 4), each produced by
 * the local Exchange-shaped SMTP server from the condition itself (a full
 * mailbox, the daily recipient limit, basic authentication retired) and sent
 * through the relay as src/app/components.ts wires it (mailbox throttle, monitor):
 *  - 554 5.2.2 mailbox full: a setup problem with a remedy, and one monitor alert;
 *  - 550 5.7.30: password login retired, the remedy is OAuth2;
 *  - 554 5.2.0 SubmissionQuotaExceeded: a wait of an hour for every waiting
 *    message, with the mailbox paused so the others do not reach the server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../../local/stack';
import { LocalSmtpServer } from '../../../local/smtpServer';
import { remedyOf } from '../../../src/core/diagnoses';
import { monitorOf } from '../../../src/app/monitor';
import type { Logger } from '../../../src/core/log';
import { RelayHarness } from '../../support/relayHarness';

let stack: LocalStack;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

function recording(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, props?: Record<string, unknown>) => void lines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

function message(id: string) {
  return { id, to: 'rcpt@example.net', subject: `limits ${id}`, text: `body of ${id}` };
}

test('554 5.2.2 mailbox full: mailbox_full with the Sent Items remedy, and the monitor alerts once while it lasts', async () => {
  const name = `limits-${++counter}`;
  const logger = recording();
  const harness = await new RelayHarness(stack, {
    name,
    runtime: true,
    logger,
    settings: { RELAY_RETRY_MAX_AGE_SECONDS: '0', MONITOR_STATE_CONTAINER: `${name}-monitor` },
  }).start();
  // Sent Items already holds more than the quota allows.
  stack.smtpServer.limitMailbox(LOCAL_MAILBOX, { storageBytes: 1 });
  try {
    await harness.enqueue(name, message(name));
    await harness.drain(30_000);
    const result = await harness.reconcile();
    assert.equal(result.deadLettered, 1, result.summary);
    const [record] = result.deadLetters.get(name)!;
    assert.equal(record!.reason, 'mailbox_full');
    assert.equal(record!.kind, 'configuration');
    assert.equal(record!.remedy, remedyOf('mailbox_full'));
    assert.match(record!.remedy, /Sent Items/);
    assert.match(record!.providerReply ?? '', /^554 5\.2\.2 mailbox full; STOREDRV\.Submission\.Exception:QuotaExceededException/);

    const monitor = monitorOf(harness.parts!);
    const first = await monitor.run(logger);
    assert.ok(first.raised.includes('mailbox:mailbox_full'), `raised: ${first.raised.join(', ')}`);
    assert.match(logger.lines.join('\n'), /ALERT mailbox_full \(critical\).*"event":"monitor\.alert"/);
    const second = await monitor.run(logger);
    assert.ok(second.active.includes('mailbox:mailbox_full'), 'still active');
    assert.ok(!second.raised.includes('mailbox:mailbox_full'), 'raised once, not on every tick');
  } finally {
    stack.smtpServer.limitMailbox(LOCAL_MAILBOX, undefined);
    await harness.close();
  }
});

test('550 5.7.30 (basic authentication retired): basic_auth_unsupported, whose remedy is OAuth2', async () => {
  const retired = await LocalSmtpServer.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    authorizedMailboxes: [LOCAL_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
    passwordLogin: 'retired',
  });
  const name = `limits-${++counter}`;
  const harness = await new RelayHarness(stack, {
    name,
    runtime: true,
    settings: { SMTP_PORT: String(retired.port), OAUTH2_ENABLED: 'false', SMTP_PASSWORD: 'the-mailbox-password', RELAY_RETRY_MAX_AGE_SECONDS: '0' },
  }).start();
  try {
    await harness.enqueue(name, message(name));
    await harness.drain(30_000);
    const result = await harness.reconcile();
    assert.equal(result.deadLettered, 1, result.summary);
    const [record] = result.deadLetters.get(name)!;
    assert.equal(record!.reason, 'basic_auth_unsupported');
    assert.equal(record!.remedy, remedyOf('basic_auth_unsupported'));
    assert.match(record!.remedy, /Switch the relay to OAuth2/);
    assert.match(record!.providerReply ?? '', /^550 5\.7\.30 Basic authentication is not supported for Client Submission/);
    assert.equal(retired.received.length, 0);
  } finally {
    await harness.close();
    await retired.close();
  }
});

test('554 5.2.0 SubmissionQuotaExceeded: every waiting message waits about an hour, and only the first reaches the server', async () => {
  const name = `limits-${++counter}`;
  // One message at a time, as a queue drained steadily: the refusal comes before the next message starts.
  const harness = await new RelayHarness(stack, { name, runtime: true, runner: { batchSize: 1 } }).start();
  stack.smtpServer.limitMailbox(LOCAL_MAILBOX, { recipientsPerDay: 1 });
  try {
    await harness.enqueue(`${name}-0`, message(`${name}-0`));
    await harness.runner.pollOnce();
    assert.equal(harness.outcomes[0]?.status, 'delivered', 'the first message used the day’s last recipient');
    const refusedBefore = stack.smtpServer.refusedSubmissions;
    for (let i = 1; i <= 5; i++) await harness.enqueue(`${name}-${i}`, message(`${name}-${i}`));
    for (let i = 1; i <= 5; i++) await harness.runner.pollOnce();

    const waits = harness.outcomes.slice(1);
    assert.equal(waits.length, 5);
    for (const outcome of waits) {
      assert.equal(outcome.status, 'retry-scheduled');
      if (outcome.status !== 'retry-scheduled') continue;
      assert.equal(outcome.reason, 'quota_exceeded', 'every waiting message says why it waits');
      assert.ok(outcome.delaySeconds >= 3500, `waits about an hour, not a fast retry loop: ${outcome.delaySeconds} s`);
    }
    assert.equal(stack.smtpServer.refusedSubmissions - refusedBefore, 1, 'the mailbox is paused: only the first refused message reached the server');
  } finally {
    stack.smtpServer.limitMailbox(LOCAL_MAILBOX, undefined);
    await harness.close();
  }
});
