/**
 * A relay process killed (SIGKILL) in the middle of a batch, with the default
 * lease (issue 10, point 6). The child takes a batch of four: two are sent,
 * two are held in DATA by the server when it dies. The queue hands those two
 * out again after the runner's processing visibility (5 s here); their claims
 * were renewed until the process died, so they wait out the rest of a 60 s
 * lease, not the ten minutes of the old lease, and a fresh relay sends them.
 * Everything arrives exactly once; the recovery time is printed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../local/stack';
import { stableMessageId } from '../../src/message/compose';
import { RelayHarness } from '../support/relayHarness';

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

const until = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const PROCESSING_VISIBILITY_SECONDS = 5;

test('a relay process killed mid-batch (SIGKILL): its in-flight messages move on about a lease (60 s) after the queue redelivers them; 0 lost, 0 duplicated', async () => {
  // The product's defaults, RELAY_LEDGER_LEASE_SECONDS included; no backoff, so only the lease and the queue set the pace.
  const settings = {
    ...stack.settings,
    RELAY_QUEUE_NAME: 'kill-batch',
    RELAY_DEADLETTER_QUEUE_NAME: 'kill-batch-deadletter',
    RELAY_DEADLETTER_CONTAINER: 'kill-batch-deadletter',
    RELAY_LEDGER_CONTAINER: 'kill-batch-ledger',
    RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_DELAY_SECONDS: '0',
  };
  const fresh = await new RelayHarness(stack, { name: 'kill-batch', settings }).start();
  assert.equal(fresh.config.queue.ledgerLeaseSeconds, 60, 'the default lease');
  const ids = Array.from({ length: 8 }, (_, n) => `kill-batch-${n}`);
  for (const [n, id] of ids.entries()) await fresh.enqueue(`k${n}`, { id, to: `user${n}@example.net`, subject: `Batch ${n}`, text: 'exactly once' });

  // The first two messages to reach DATA are held there by the server: in flight when the process dies.
  stack.smtpServer.failNext('data', { stallMs: 15_000 }, 2);
  const receivedBefore = stack.smtpServer.received.length;
  const child = spawn(process.execPath, [require.resolve('../support/relayProcess')], {
    env: {
      ...process.env,
      RELAY_SETTINGS_JSON: JSON.stringify(settings),
      RELAY_RUNNER_BATCH_SIZE: '4',
      RELAY_PROCESSING_VISIBILITY_SECONDS: String(PROCESSING_VISIBILITY_SECONDS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const sendingInChild = async () => {
    const entries = await Promise.all(ids.map((id) => fresh.ledger.read(`id:${id}`)));
    return entries.filter((entry) => entry?.state === 'sending').map((entry) => entry!.key);
  };
  let killedAt: number;
  try {
    // Mid-batch: two of the batch sent, two held in DATA.
    await until(() => stack.smtpServer.received.length >= receivedBefore + 2, 'the child to send two messages', 30_000);
    await until(async () => (await sendingInChild()).length === 2, 'two messages in flight in the child', 30_000);
    killedAt = Date.now();
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', stderr);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const inFlight = await sendingInChild();
  assert.equal(inFlight.length, 2, 'the dead process left two claims');

  // Far inside the old ten-minute lease; a generous bound, not a timing assertion.
  await fresh.drain(150_000);
  const result = await fresh.reconcile();
  await fresh.close();
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.delivered, ids.length, result.summary);
  for (const id of ids) {
    const copies = stack.smtpServer.received.filter((message) => message.raw.includes(stableMessageId(id, LOCAL_MAILBOX)));
    assert.equal(copies.length, 1, id);
  }
  const recoveredAt = Math.max(
    ...inFlight.map((key) =>
      stack.smtpServer.received.find((message) => message.raw.includes(stableMessageId(key.slice('id:'.length), LOCAL_MAILBOX)))!.receivedAt.getTime(),
    ),
  );
  for (const key of inFlight) {
    const entry = await fresh.ledger.read(key);
    assert.equal(entry?.state, 'sent');
    assert.equal(entry?.claims, 2, "the fresh relay took over the dead process's claim");
  }
  console.log(
    `recovery after SIGKILL: the in-flight messages were delivered ${((recoveredAt - killedAt!) / 1000).toFixed(1)} s after the kill ` +
      `(the queue redelivered them after ${PROCESSING_VISIBILITY_SECONDS} s; lease ${fresh.config.queue.ledgerLeaseSeconds} s, renewed every ${fresh.config.queue.ledgerLeaseSeconds / 3} s); ` +
      result.summary,
  );
});
