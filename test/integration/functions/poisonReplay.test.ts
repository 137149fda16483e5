/**
 * When even the storage settings are invalid nothing can be written, so the
 * registered queue function throws and the host (the queue runner on Azurite)
 * retries the message and moves it to `<queue>-poison`; the log says why, once a
 * minute. After the fix `oauth2-smtp-relay replay --from-poison` puts the
 * messages back exactly as they were found (plain or base64 text), deleting
 * them from the poison queue only once they are back, and they are delivered.
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

let stack: LocalStack;
let queue: QueueClient;
let poison: QueueClient;
let runner: QueueRunner;
const lines: string[] = [];
const failures: string[] = [];
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
    RELAY_QUEUE_NAME: 'stranded',
    RELAY_DEADLETTER_CONTAINER: 'stranded-deadletter',
    RELAY_LEDGER_CONTAINER: 'stranded-ledger',
    // Broken twice: the secret, and a storage setting, so not even a dead letter can be written.
    OAUTH2_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=https://relay-kv.vault.azure.net/secrets/relay-secret/)',
    RELAY_DEADLETTER_QUEUE_NAME: 'Stranded_DeadLetter',
  });
  const connection = stack.settings.AzureWebJobsStorage;
  queue = new QueueClient(connection, 'stranded');
  poison = new QueueClient(connection, 'stranded-poison');
  let invocation = 0;
  runner = new QueueRunner({
    queue,
    poisonQueue: poison,
    settings: { batchSize: 16, maxDequeueCount: 3, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    handler: (payload, delivery) =>
      relayOutboundMail(
        payload,
        new InvocationContext({
          invocationId: `stranded-${++invocation}`,
          functionName: 'relayOutboundMail',
          triggerMetadata: { dequeueCount: delivery.dequeueCount, id: delivery.queueMessageId, insertionTime: delivery.insertionTime },
          logHandler: (level, ...args) => lines.push(`${level} ${args.join(' ')}`),
        }),
      ),
    // What the host logs for a failed invocation: the thrown error's message.
    logger: { info() {}, warn: (_message, props) => failures.push(String(props?.error)), error() {} },
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
  return (await client.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((item) => item.messageText).sort();
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { env: process.env, out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

test('unreadable storage settings: the function throws with the reason, the host poisons the message, replay --from-poison brings it back as found', async () => {
  const plain = JSON.stringify({ id: 'stranded-1', to: 'someone@example.net', subject: 'Stranded plain', text: 'hello' });
  const base64 = Buffer.from(JSON.stringify({ id: 'stranded-2', to: 'other@example.net', subject: 'Stranded base64', text: 'hello' })).toString('base64');
  await queue.sendMessage(plain);
  await queue.sendMessage(base64);

  for (let delivery = 1; delivery <= 3; delivery++) assert.equal(await runner.pollOnce(), 2);
  assert.deepEqual(await peekTexts(queue), []);
  assert.deepEqual(await peekTexts(poison), [plain, base64].sort(), 'the host moved both, unchanged, to the poison queue');

  // Every failure says why; the relay's own line comes once, with every problem and where the messages went.
  assert.equal(failures.length, 6);
  for (const failure of failures) assert.match(failure, /^configuration_invalid \(attempt \d\): .*RELAY_DEADLETTER_QUEUE_NAME.*replay --from-poison/);
  const configInvalid = lines.filter((line) => line.includes('"event":"relay.config_invalid"'));
  assert.equal(configInvalid.length, 1, lines.join('\n'));
  assert.match(configInvalid[0]!, /RELAY_DEADLETTER_QUEUE_NAME/);
  assert.match(configInvalid[0]!, /OAUTH2_CLIENT_SECRET/);
  assert.match(configInvalid[0]!, /stranded-poison/);

  // Fixed. A dry run changes nothing; then the messages go back as they were found.
  setEnv({ OAUTH2_CLIENT_SECRET: stack.clientSecret, RELAY_DEADLETTER_QUEUE_NAME: 'stranded-deadletter' });
  const dry = await cli(['replay', '--from-poison', '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /replay from poison: 2 examined, 2 would-replay/);
  assert.equal((await peekTexts(poison)).length, 2);

  const run = await cli(['replay', '--from-poison']);
  assert.equal(run.code, 0, run.err);
  assert.equal(run.out.match(/^replayed +- \S+ \(in poison since /gm)?.length, 2, run.out);
  assert.match(run.out, /replay from poison: 2 examined, 2 replayed\n$/);
  assert.deepEqual(await peekTexts(poison), []);
  assert.deepEqual(await peekTexts(queue), [plain, base64].sort(), 're-queued as found');

  const receivedBefore = stack.smtpServer.received.length;
  assert.equal(await runner.pollOnce(), 2);
  const subjects = stack.smtpServer.received.slice(receivedBefore).map((message) => /^Subject: (.*)$/m.exec(message.raw.toString('utf8'))?.[1]);
  assert.deepEqual(subjects.sort(), ['Stranded base64', 'Stranded plain']);

  // Nothing left: a second run finds nothing; --reason makes no sense for poison messages.
  assert.match((await cli(['replay', '--from-poison'])).out, /replay from poison: 0 examined\n$/);
  const usage = await cli(['replay', '--from-poison', '--reason', 'smtp_throttled']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--reason does not apply to --from-poison/);
});
