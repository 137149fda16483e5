/**
 * Process killed mid-send: a relay in a child process takes a message and is
 * killed with SIGKILL while the SMTP server is still receiving it (before the
 * server's reply, so the server has not accepted it). A fresh relay gets the
 * redelivery, waits out the dead process's ledger claim, takes it over and
 * sends: the message arrives exactly once.
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

test('a relay process killed (SIGKILL) mid-send: the redelivery is sent by a fresh relay, exactly once', async () => {
  const settings = {
    ...stack.settings,
    RELAY_QUEUE_NAME: 'killed',
    RELAY_DEADLETTER_QUEUE_NAME: 'killed-deadletter',
    RELAY_DEADLETTER_CONTAINER: 'killed-deadletter',
    RELAY_LEDGER_CONTAINER: 'killed-ledger',
    RELAY_LEDGER_LEASE_SECONDS: '2',
    RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_DELAY_SECONDS: '0',
  };
  // The fresh relay (this process) uses the same queues and ledger.
  const fresh = await new RelayHarness(stack, { name: 'killed', settings }).start();
  const id = 'killed-mid-send-1';
  await fresh.enqueue('k1', { id, to: 'someone@example.net', subject: 'survives a crash', text: 'exactly once' });

  // The server holds its reply to DATA, so the child is mid-send when it dies.
  stack.smtpServer.failNext('data', { stallMs: 4000 });
  const authBefore = stack.smtpServer.authAttempts;
  const child = spawn(process.execPath, [require.resolve('../support/relayProcess')], {
    env: { ...process.env, RELAY_SETTINGS_JSON: JSON.stringify(settings), RELAY_PROCESSING_VISIBILITY_SECONDS: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  try {
    await until(() => stack.smtpServer.authAttempts > authBefore, 'the child to authenticate');
    await until(async () => (await fresh.ledger.read(`id:${id}`))?.state === 'sending', 'the child to claim the message');
    await new Promise((resolve) => setTimeout(resolve, 300)); // MAIL, RCPT, DATA: well inside the 4 s stall
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', stderr);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const claimedByChild = await fresh.ledger.read(`id:${id}`);
  assert.equal(claimedByChild?.state, 'sending', 'the dead process left its claim');

  await fresh.drain(20_000);
  const result = await fresh.reconcile();
  await fresh.close();
  assert.deepEqual(result.lost, []);
  assert.deepEqual(result.duplicated, []);
  assert.equal(result.delivered, 1, result.summary);
  assert.equal(stack.smtpServer.received.filter((message) => message.raw.includes(stableMessageId(id, LOCAL_MAILBOX))).length, 1);
  const entry = await fresh.ledger.read(`id:${id}`);
  assert.equal(entry?.state, 'sent');
  assert.equal(entry?.claims, 2, "the fresh relay took over the dead process's claim");
});
