/**
 * A misconfigured app does not strand mail without a reason. The registered
 * queue function, driven like the host drives it (the queue runner on Azurite),
 * with the client secret setting an unresolved Key Vault reference: each message
 * is held with a retry copy (not thrown to the host's poison queue), the problems
 * are logged once a minute as relay.config_invalid, at the maximum age the message
 * is dead-lettered with configuration_invalid and the problems, and once the
 * setting is fixed `replay --reason configuration_invalid` brings it back and it
 * is delivered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { QueueRunner } from '../../../src/worker/queueRunner';
import { relayOutboundMail } from '../../../functions/relayOutboundMail';
import { main } from '../../../src/app/cli';
import { getRelay } from '../../../src/app/runtime';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import type { RetryEnvelope } from '../../../src/delivery/retryEnvelope';

const UNRESOLVED = '@Microsoft.KeyVault(SecretUri=https://relay-kv.vault.azure.net/secrets/relay-secret/)';

let stack: LocalStack;
let queue: QueueClient;
let poison: QueueClient;
let deadLetters: QueueClient;
let runner: QueueRunner;
const lines: string[] = [];
const saved = new Map<string, string | undefined>();

function setEnv(values: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!saved.has(key)) saved.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  setEnv({
    ...stack.settings,
    RELAY_QUEUE_NAME: 'held',
    RELAY_DEADLETTER_QUEUE_NAME: 'held-deadletter',
    RELAY_DEADLETTER_CONTAINER: 'held-deadletter',
    RELAY_LEDGER_CONTAINER: 'held-ledger',
    // Retry copies visible at once, so the runner can step through them.
    RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_DELAY_SECONDS: '0',
    OAUTH2_CLIENT_SECRET: UNRESOLVED,
  });
  const connection = stack.settings.AzureWebJobsStorage;
  queue = new QueueClient(connection, 'held');
  poison = new QueueClient(connection, 'held-poison');
  deadLetters = new QueueClient(connection, 'held-deadletter');
  let invocation = 0;
  runner = new QueueRunner({
    queue,
    poisonQueue: poison,
    settings: { batchSize: 16, maxDequeueCount: 5, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    // The registered function, with the trigger metadata the host passes.
    handler: (payload, delivery) =>
      relayOutboundMail(
        payload,
        new InvocationContext({
          invocationId: `held-${++invocation}`,
          functionName: 'relayOutboundMail',
          triggerMetadata: { dequeueCount: delivery.dequeueCount, id: delivery.queueMessageId, insertionTime: delivery.insertionTime },
          logHandler: (level, ...args) => lines.push(`${level} ${args.join(' ')}`),
        }),
      ),
    logger: { info() {}, warn() {}, error() {} },
  });
  await queue.createIfNotExists();
  await poison.createIfNotExists();
});

after(async () => {
  try {
    await Promise.resolve()
      .then(() => getRelay().close())
      .catch(() => undefined);
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await stack?.close();
  }
});

async function peekTexts(client: QueueClient): Promise<string[]> {
  return (await client.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((item) => item.messageText);
}

const configInvalidLines = () => lines.filter((line) => line.includes('"event":"relay.config_invalid"'));

test('invalid settings: messages are held with a reason, dead-lettered with the problems at their maximum age, and delivered after the fix and a replay', async () => {
  await queue.sendMessage(JSON.stringify({ id: 'held-1', to: 'someone@example.net', subject: 'Held while misconfigured', text: 'hello' }));
  await queue.sendMessage(JSON.stringify({ id: 'held-2', to: 'other@example.net', subject: 'Also held', text: 'hello' }));

  // Each delivery ends with a retry copy, not an exception for the host to count towards poison.
  assert.equal(await runner.pollOnce(), 2);
  let held = (await peekTexts(queue)).map((text) => JSON.parse(text) as RetryEnvelope);
  assert.equal(held.length, 2);
  for (const copy of held) {
    assert.equal(copy.lastReason, 'configuration_invalid');
    assert.match(copy.lastError, /OAUTH2_CLIENT_SECRET: is an unresolved Key Vault reference/);
  }
  assert.deepEqual(await peekTexts(poison), []);
  assert.equal(await runner.pollOnce(), 2);
  held = (await peekTexts(queue)).map((text) => JSON.parse(text) as RetryEnvelope);
  assert.deepEqual(held.map((copy) => copy.attempts).sort(), [2, 2], 'held again, attempts counted');

  // Four invocations, one relay.config_invalid line naming the problem (at most once a minute).
  assert.equal(configInvalidLines().length, 1, lines.join('\n'));
  assert.match(configInvalidLines()[0]!, /^error .*OAUTH2_CLIENT_SECRET: is an unresolved Key Vault reference/);
  assert.ok(!lines.join('\n').includes(stack.clientSecret), 'no secret in the log');

  // Past the maximum age: dead-lettered with configuration_invalid and the problems.
  setEnv({ RELAY_RETRY_MAX_AGE_SECONDS: '0' });
  assert.equal(await runner.pollOnce(), 2);
  assert.deepEqual(await peekTexts(queue), []);
  assert.deepEqual(await peekTexts(poison), []);
  const records = (await peekTexts(deadLetters)).map((text) => JSON.parse(text) as DeadLetterRecord);
  assert.equal(records.length, 2);
  for (const record of records) {
    assert.equal(record.reason, 'configuration_invalid');
    assert.equal(record.kind, 'configuration');
    assert.match(record.description, /OAUTH2_CLIENT_SECRET: is an unresolved Key Vault reference/);
    assert.match(record.remedy ?? '', /replay --reason configuration_invalid/);
    assert.ok(record.original?.includes('"id":"held-'), 'the message kept as queued');
  }

  // The setting is fixed; the operator replays what waited for it.
  setEnv({ OAUTH2_CLIENT_SECRET: stack.clientSecret, RELAY_RETRY_MAX_AGE_SECONDS: undefined });
  let out = '';
  const code = await main(['replay', '--reason', 'configuration_invalid'], { env: process.env, out: (text) => (out += text), err: (text) => (out += text) });
  assert.equal(code, 0, out);
  assert.match(out, /replay: 2 examined, 2 replayed/);
  const receivedBefore = stack.smtpServer.received.length;
  assert.equal(await runner.pollOnce(), 2);
  const delivered = stack.smtpServer.received.slice(receivedBefore).map((message) => message.raw.toString('utf8'));
  assert.equal(delivered.length, 2);
  assert.ok(delivered.some((raw) => raw.includes('Subject: Held while misconfigured')));
  assert.deepEqual(await peekTexts(queue), []);
  assert.deepEqual(await peekTexts(deadLetters), []);
});
