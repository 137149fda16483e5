/**
 * One test per fault, each on the real local stack (Azurite, the HTTPS token
 * endpoint through @azure/identity, the STARTTLS SMTP server): a message is
 * queued, the fault is injected, the queue is run dry, and the reconciliation
 * must show the message delivered exactly once, intact (parsed from the .eml),
 * or dead-lettered once with the precise reason. Never lost, never twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../../local/stack';
import { LocalSmtpServer, type SmtpFault, type SmtpStage } from '../../../local/smtpServer';
import { createLocalCertificates } from '../../../local/certs';
import type { InjectedReply } from '../../../local/tokenServer';
import { stableMessageId } from '../../../src/message/compose';
import { RelayHarness, type HarnessOptions, type Reconciliation } from '../../support/relayHarness';

let stack: LocalStack;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

const FAST_TIMEOUTS = { SMTP_CONNECTION_TIMEOUT_MS: '1000', SMTP_GREETING_TIMEOUT_MS: '1000', SMTP_SOCKET_TIMEOUT_MS: '1000' };

interface Run {
  harness: RelayHarness;
  result: Reconciliation;
  id: string;
}

/** Queue one message, inject, run the queue dry, reconcile. */
async function runWith(inject: (harness: RelayHarness) => void, options: Partial<HarnessOptions> = {}): Promise<Run> {
  const name = `fault-${++counter}`;
  const harness = await new RelayHarness(stack, { name, ...options, settings: { ...FAST_TIMEOUTS, ...options.settings } }).start();
  inject(harness);
  const id = `${name}-msg`;
  await harness.enqueue(id, { id, to: 'Zoë <rcpt@example.net>', subject: 'Fault test — ünïcode', text: `body of ${id}` });
  await harness.drain(30_000);
  const result = await harness.reconcile();
  await harness.close();
  return { harness, result, id };
}

function assertNoLossNoDuplicate(result: Reconciliation): void {
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.queued, 0, result.summary);
  assert.equal(result.poisoned, 0, result.summary);
}

/** Delivered exactly once, and the delivered message is the one queued (headers parsed back from the .eml). */
async function assertDeliveredOnce({ result, id }: Run): Promise<void> {
  assertNoLossNoDuplicate(result);
  assert.equal(result.delivered, 1, result.summary);
  assert.equal(result.deadLettered, 0, result.summary);
  const received = stack.smtpServer.received.filter((message) => message.raw.includes(stableMessageId(id, LOCAL_MAILBOX)));
  assert.equal(received.length, 1);
  const parsed = await simpleParser(received[0]!.raw);
  assert.equal(parsed.subject, 'Fault test — ünïcode');
  assert.equal(parsed.text?.trim(), `body of ${id}`);
  assert.deepEqual(received[0]!.envelope.rcptTo, ['rcpt@example.net']);
}

function assertDeadLetteredOnce({ result, id }: Run, reason: string, reply?: RegExp): void {
  assertNoLossNoDuplicate(result);
  assert.equal(result.delivered, 0, result.summary);
  assert.equal(result.deadLettered, 1, result.summary);
  const [record] = result.deadLetters.get(id)!;
  assert.equal(record!.reason, reason);
  if (reply) assert.match(record!.providerReply ?? '', reply);
  assert.equal(record!.messageKey, id);
  assert.equal(JSON.parse(record!.original!).text, `body of ${id}`, 'the original is kept intact');
}

function retriedFor(run: Run, reason: string): boolean {
  return run.harness.outcomes.some((outcome) => outcome.status === 'retry-scheduled' && outcome.reason === reason);
}

// ----------------------------------------------------------------- SMTP drops

const drops: Array<[string, SmtpStage, SmtpFault]> = [
  ['before the greeting', 'connect', 'drop'],
  ['during AUTH', 'auth', 'drop'],
  ['after AUTH (at MAIL FROM)', 'mail', 'drop'],
  ['in the middle of DATA', 'data', 'drop-mid-data'],
  ["after the final '.' but before replying", 'data', 'drop'],
];
for (const [when, stage, fault] of drops) {
  test(`SMTP server drops the connection ${when}: retried, delivered exactly once`, async () => {
    const run = await runWith(() => stack.smtpServer.failNext(stage, fault));
    await assertDeliveredOnce(run);
    // nodemailer's pool may move a message whose connection died before the greeting to a new connection itself.
    if (stage !== 'connect')
      assert.ok(
        run.harness.outcomes.some((outcome) => outcome.status === 'retry-scheduled'),
        'the failure was retried',
      );
  });
}

// -------------------------------------------------------------- SMTP replies

const transientReplies: Array<[string, SmtpStage, { code: number; message: string }, string]> = [
  ['421 at the greeting', 'connect', { code: 421, message: '4.3.2 Service not available, closing transmission channel' }, 'smtp_throttled'],
  ['432 4.3.2 at MAIL FROM', 'mail', { code: 432, message: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' }, 'smtp_throttled'],
  ['451 at DATA', 'data', { code: 451, message: '4.3.0 Mail server temporarily rejected message' }, 'smtp_transient_failure'],
  ['452 at RCPT TO', 'rcpt', { code: 452, message: '4.5.3 Too many recipients' }, 'smtp_throttled'],
  ['454 at AUTH', 'auth', { code: 454, message: '4.7.0 Temporary authentication failure' }, ''],
];
for (const [name, stage, reply, reason] of transientReplies) {
  test(`SMTP reply ${name}: retried, delivered exactly once`, async () => {
    const run = await runWith(() => stack.smtpServer.failNext(stage, reply));
    await assertDeliveredOnce(run);
    const retried = run.harness.outcomes.filter((outcome) => outcome.status === 'retry-scheduled');
    assert.equal(retried.length, 1);
    if (reason) assert.equal(retried[0]!.status === 'retry-scheduled' && retried[0]!.reason, reason);
  });
}

const permanentReplies: Array<[string, SmtpStage, { code: number; message: string }, string]> = [
  [
    '550 at RCPT TO (the only recipient)',
    'rcpt',
    { code: 550, message: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
    'recipients_rejected',
  ],
  ['550 5.7.60 at MAIL FROM', 'mail', { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' }, 'send_as_denied'],
  ['552 at DATA', 'data', { code: 552, message: '5.3.4 Message size exceeds fixed maximum message size' }, 'message_too_large'],
  ['554 at DATA', 'data', { code: 554, message: '5.6.0 Corrupt message content' }, 'smtp_permanent_failure'],
];
for (const [name, stage, reply, reason] of permanentReplies) {
  test(`SMTP reply ${name}: dead-lettered once as ${reason}, with the reply, nothing sent`, async () => {
    const run = await runWith(() => stack.smtpServer.failNext(stage, reply));
    assertDeadLetteredOnce(run, reason, new RegExp(String(reply.code)));
  });
}

// ---------------------------------------------------------------- slow server

test('slow server: no greeting within the greeting timeout, retried, delivered exactly once', async () => {
  const run = await runWith(() => stack.smtpServer.failNext('connect', { stallMs: 2500 }));
  await assertDeliveredOnce(run);
  assert.ok(run.harness.outcomes.some((outcome) => outcome.status === 'retry-scheduled'));
});

test('slow server: no reply to DATA within the socket timeout, not accepted, retried, delivered exactly once', async () => {
  const run = await runWith(() => stack.smtpServer.failNext('data', { stallMs: 2500 }));
  await assertDeliveredOnce(run);
  assert.ok(retriedFor(run, 'smtp_timeout') || retriedFor(run, 'smtp_transient_failure'));
});

// ------------------------------------------------------------------------ TLS

test('a TLS certificate that does not verify: nothing is sent, dead-lettered as smtp_tls_failed at the maximum age', async () => {
  const otherCa = await createLocalCertificates(join(stack.dir, 'other-ca'));
  const untrusted = await LocalSmtpServer.start({
    tls: { certPem: otherCa.certPem, keyPem: otherCa.keyPem },
    authorizedMailboxes: [LOCAL_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
  });
  try {
    const run = await runWith(() => undefined, { settings: { SMTP_PORT: String(untrusted.port), RELAY_RETRY_MAX_AGE_SECONDS: '1' } });
    assertDeadLetteredOnce(run, 'smtp_tls_failed');
    assert.equal(untrusted.received.length, 0);
    assert.equal(untrusted.authAttempts, 0, 'no token was offered to a server that failed verification');
  } finally {
    await untrusted.close();
  }
});

// -------------------------------------------------------------- token endpoint

const tokenFaults: Array<[string, InjectedReply]> = [
  [
    '429 with Retry-After',
    {
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.',
      },
    },
  ],
  ['500', { status: 500, body: { error: 'server_error', error_description: 'AADSTS50000: There was an error issuing a token.' } }],
  ['503', { status: 503, body: 'Service Unavailable' }],
  ['malformed JSON', { status: 200, body: '{"token_type":"Bearer","access_token":' }],
];
for (const [name, reply] of tokenFaults) {
  test(`token endpoint ${name}: the message waits and is delivered exactly once`, async () => {
    const run = await runWith(() => stack.tokenServer.failNext(reply));
    await assertDeliveredOnce(run);
  });
}

test('token endpoint 429 with Retry-After: the retry copy waits at least that long', async () => {
  const run = await runWith(() =>
    stack.tokenServer.failNext(
      { status: 429, headers: { 'retry-after': '2' }, body: { error: 'temporarily_unavailable', error_description: 'AADSTS50196: throttled' } },
      4,
    ),
  );
  await assertDeliveredOnce(run);
  const waits = run.harness.outcomes.filter((outcome) => outcome.status === 'retry-scheduled' && outcome.reason === 'token_endpoint_throttled');
  assert.ok(waits.length >= 1, 'retried as throttled');
  for (const wait of waits) assert.ok(wait.status === 'retry-scheduled' && wait.delaySeconds >= 2);
});

test('token endpoint timeout: the message waits and is delivered exactly once', async () => {
  const run = await runWith(
    () => stack.tokenServer.failNext({ status: 200, delayMs: 1500, body: { token_type: 'Bearer', access_token: 'late', expires_in: 3600 } }, 4),
    { tokenRequestTimeoutMs: 300 },
  );
  await assertDeliveredOnce(run);
  assert.ok(retriedFor(run, 'token_endpoint_unavailable'));
});

test('token without expires_in: never sent with an unusable token, delivered exactly once', async () => {
  const token = await stack.tokenServer.issueToken();
  const run = await runWith(() => stack.tokenServer.failNext({ status: 200, body: { token_type: 'Bearer', access_token: token } }));
  await assertDeliveredOnce(run);
});

// -------------------------------------------------------------------- storage

test('storage unavailable while writing a dead-letter record: the message stays queued, then is dead-lettered once', async () => {
  let failures = 2;
  const run = await runWith((harness) => {
    stack.smtpServer.failNext('mail', { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' }, 3);
    harness.faults.deadLetterWrite = () => failures-- > 0;
  });
  assertDeadLetteredOnce(run, 'send_as_denied');
  assert.equal(failures, -1, 'both injected failures were met');
});

test('storage unavailable while writing the retry copy: the original stays queued and is delivered once', async () => {
  let failures = 1;
  const run = await runWith((harness) => {
    stack.smtpServer.failNext('data', { code: 451, message: '4.3.0 try again later' });
    harness.faults.retryCopyWrite = () => failures-- > 0;
  });
  await assertDeliveredOnce(run);
  assert.equal(failures, 0, 'the one injected failure was met, and the host-level retry then delivered');
  assert.ok(
    run.harness.outcomes.every((outcome) => outcome.status !== 'retry-scheduled'),
    'no copy was written',
  );
});

test('the queue message is not deleted after delivery (crash, timeout, lost pop receipt): the redelivery is not sent', async () => {
  let lose = 2;
  const run = await runWith((harness) => {
    harness.faults.loseDelete = () => lose-- > 0;
  });
  await assertDeliveredOnce(run);
  assert.equal(run.harness.outcomes.filter((outcome) => outcome.status === 'duplicate').length, 2);
});
