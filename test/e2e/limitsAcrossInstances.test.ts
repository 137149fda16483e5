/**
 * The mailbox's limits held across instances: three relay processes (each the
 * product's own wiring, test/support/relayProcess.ts) take messages from one
 * Azurite queue and send them as one mailbox to a local SMTP server that enforces
 * Exchange Online's per-mailbox limits over all connections, scaled down so the
 * test takes seconds: 2 concurrent connections (more: 421 4.3.2 at AUTH), 10
 * messages per 5 s (more: 432 4.3.2 at MAIL FROM) and 50 recipients per 20 s "day"
 * (more: 554 5.2.0 SubmissionQuotaExceeded).
 *
 * With RELAY_LIMITS_SCOPE=app (the default) the processes coordinate through
 * blobs in the coordination container: the server never throttles or blocks,
 * every message arrives once, and the messages past the daily budget wait in the
 * queue until it reopens. With RELAY_LIMITS_SCOPE=instance each process keeps the
 * same limits alone, and the same run is throttled: the test can fail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { QueueClient } from '@azure/storage-queue';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../local/stack';
import { LocalSmtpServer, type ReceivedMessage } from '../../local/smtpServer';

const PROCESSES = 3;
const LIMITS = { connections: 2, messages: 10, windowSeconds: 5, recipientsPerDay: 50, daySeconds: 20 };

let stack: LocalStack;
let server: LocalSmtpServer;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  server = await LocalSmtpServer.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    authorizedMailboxes: [LOCAL_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
    maxConnections: LIMITS.connections,
    rateLimit: { messages: LIMITS.messages, windowMs: LIMITS.windowSeconds * 1000 },
  });
});

after(async () => {
  await server?.close();
  await stack?.close();
});

function settingsFor(run: string, scope: 'app' | 'instance'): Record<string, string> {
  return {
    ...stack.settings,
    SMTP_PORT: String(server.port),
    RELAY_QUEUE_NAME: `${run}`,
    RELAY_DEADLETTER_QUEUE_NAME: `${run}-deadletter`,
    RELAY_DEADLETTER_CONTAINER: `${run}-deadletter`,
    RELAY_LEDGER_CONTAINER: `${run}-ledger`,
    RELAY_COORDINATION_CONTAINER: `${run}-coordination`,
    RELAY_LIMITS_SCOPE: scope,
    SMTP_POOL_SIZE: String(LIMITS.connections),
    SMTP_RATE_LIMIT_PER_MINUTE: String(LIMITS.messages),
    SMTP_RATE_LIMIT_WINDOW_SECONDS: String(LIMITS.windowSeconds),
    SMTP_DAILY_RECIPIENT_LIMIT: String(LIMITS.recipientsPerDay),
    SMTP_DAILY_RECIPIENT_WINDOW_SECONDS: String(LIMITS.daySeconds),
    SMTP_RATE_LIMIT_MAX_WAIT_SECONDS: '10',
    SMTP_THROTTLE_BACKOFF_SECONDS: '1',
    RELAY_RETRY_FIRST_DELAY_SECONDS: '1',
    RELAY_RETRY_MAX_DELAY_SECONDS: '2',
  };
}

/** The relay processes, each polling the run's queue 8 messages at a time (the host's batchSize). */
function startRelays(settings: Record<string, string>): { stop(): Promise<void>; stderr: () => string } {
  let stderr = '';
  const children: ChildProcess[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const child = spawn(process.execPath, [require.resolve('../support/relayProcess')], {
      env: { ...process.env, RELAY_SETTINGS_JSON: JSON.stringify(settings), RELAY_RUNNER_BATCH_SIZE: '8', RELAY_PROCESSING_VISIBILITY_SECONDS: '60' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code, signal) => (stderr += `${child.pid} exited ${code} ${signal}\n`));
    children.push(child);
  }
  return {
    stderr: () => stderr,
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

async function enqueue(settings: Record<string, string>, run: string, count: number, recipients: number): Promise<QueueClient> {
  const queue = new QueueClient(settings.AzureWebJobsStorage!, settings.RELAY_QUEUE_NAME!);
  await queue.createIfNotExists();
  for (let i = 0; i < count; i++) {
    const to = Array.from({ length: recipients }, (_, r) => `r${r}.${i}@example.net`);
    await queue.sendMessage(JSON.stringify({ id: `${run}-${i}`, to, subject: `${run} ${i}`, text: 'within the limits' }));
  }
  return queue;
}

const ofRun = (run: string) => server.received.filter((message) => subjectOf(message).startsWith(`${run} `));
const subjectOf = (message: ReceivedMessage) => /^Subject: (.*)$/m.exec(message.raw.toString('utf8'))?.[1]?.trim() ?? '';
const refusals = () => ({ connections: server.connectionRejections, rate: server.rateRejections, quota: server.quotaRejections });

async function until(condition: () => boolean, what: string, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('app scope: three relay processes hold the connection, rate and daily limits together: no refusal, every message once, the ones past the budget wait', async () => {
  const run = 'limits-app';
  const MESSAGES = 30;
  const RECIPIENTS = 2; // 60 recipients: 10 more than the "day" allows
  server.limitMailbox(LOCAL_MAILBOX, { recipientsPerDay: LIMITS.recipientsPerDay, dayMs: LIMITS.daySeconds * 1000 });
  const refusedBefore = refusals();
  const settings = settingsFor(run, 'app');
  await enqueue(settings, run, MESSAGES, RECIPIENTS);
  const relays = startRelays(settings);
  try {
    await until(() => ofRun(run).length >= MESSAGES, `${MESSAGES} messages`, 180_000, relays.stderr);
  } finally {
    await relays.stop();
  }
  assert.deepEqual(refusals(), refusedBefore, 'the server never refused a connection (421), a message (432) or the budget (554)');
  const received = ofRun(run);
  assert.equal(new Set(received.map(subjectOf)).size, MESSAGES, 'every message delivered');
  assert.equal(received.length, MESSAGES, 'each exactly once');
  assert.ok(server.peakConnections <= LIMITS.connections, `at most ${LIMITS.connections} connections at once (saw ${server.peakConnections})`);
  // The first 25 messages spend the day's 50 recipients; the 26th may go only once the first ones aged out.
  const times = received.map((message) => message.receivedAt.getTime()).sort((a, b) => a - b);
  const withinBudget = LIMITS.recipientsPerDay / RECIPIENTS;
  assert.ok(
    times[withinBudget]! - times[0]! >= LIMITS.daySeconds * 1000,
    `message ${withinBudget + 1} waited for the budget: ${times[withinBudget]! - times[0]!} ms after the first`,
  );
  const deadLetters = new QueueClient(settings.AzureWebJobsStorage!, settings.RELAY_DEADLETTER_QUEUE_NAME!);
  assert.equal(
    (await deadLetters.exists()) ? (await deadLetters.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length : 0,
    0,
    'nothing dead-lettered',
  );
});

test('instance scope: the same processes each keep the limits alone, and the server throttles them (the test can fail)', async () => {
  const run = 'limits-instance';
  server.limitMailbox(LOCAL_MAILBOX, { recipientsPerDay: LIMITS.recipientsPerDay, dayMs: LIMITS.daySeconds * 1000 });
  const refusedBefore = refusals();
  const settings = settingsFor(run, 'instance');
  await enqueue(settings, run, 30, 1);
  const relays = startRelays(settings);
  const throttled = () => server.connectionRejections + server.rateRejections > refusedBefore.connections + refusedBefore.rate;
  try {
    await until(() => throttled() || ofRun(run).length >= 30, 'throttling or every message', 120_000, relays.stderr);
  } finally {
    await relays.stop();
  }
  assert.ok(throttled(), `the server refused connections (421 4.3.2) or messages (432 4.3.2): ${JSON.stringify(refusals())}`);
});
