/**
 * Key Vault faults, with the relay wired as in Azure (client secret only in
 * the vault, read through the SDK from the KeyVaultDouble): a vault answering
 * 503 or not answering at all makes the message wait and retry; it is then
 * delivered exactly once and nothing is dead-lettered or lost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueClient } from '@azure/storage-queue';
import { QueueRunner } from '../../../src/worker/queueRunner';
import { LOCAL_MAILBOX } from '../../../local/stack';
import { stableMessageId } from '../../../src/message/compose';
import type { RelayOutcome } from '../../../src/relay/handler';
import { startRelayVaultStack, type RelayVaultStack } from '../../support/relayVaultStack';

let vs: RelayVaultStack;
before(async () => {
  vs = await startRelayVaultStack();
});
after(async () => {
  await vs?.close();
});

let counter = 0;

async function deliverThrough(inject: () => void): Promise<{ outcomes: RelayOutcome[]; id: string; deadLetters: number }> {
  const name = `kvfault-${++counter}`;
  const relay = vs.relay({
    RELAY_QUEUE_NAME: name,
    RELAY_DEADLETTER_QUEUE_NAME: `${name}-dl`,
    RELAY_DEADLETTER_CONTAINER: `${name}-dl`,
    RELAY_LEDGER_CONTAINER: `${name}-ledger`,
    RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_DELAY_SECONDS: '0',
  });
  const connection = vs.stack.settings.AzureWebJobsStorage;
  const queue = new QueueClient(connection, name);
  const outcomes: RelayOutcome[] = [];
  const runner = new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection, `${name}-poison`),
    settings: {
      batchSize: 4,
      maxDequeueCount: relay.config.queue.maxDequeueCount,
      visibilityTimeoutSeconds: 0,
      maxPollingIntervalMs: 100,
      messageEncoding: 'none',
    },
    handler: async (payload, delivery) => {
      const outcome = await relay.handleQueueMessage(payload, delivery, { info() {}, warn() {}, error() {} });
      outcomes.push(outcome);
      return outcome;
    },
    logger: { info() {}, warn() {}, error() {} },
  });
  await queue.createIfNotExists();
  const id = `${name}-message`;
  await queue.sendMessage(JSON.stringify({ id, to: 'someone@example.net', subject: 'vault fault', text: 'body' }));
  inject();
  const deadline = Date.now() + 60_000;
  while (((await queue.getProperties()).approximateMessagesCount ?? 0) > 0 && Date.now() < deadline) {
    if ((await runner.pollOnce()) === 0) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const deadLetterQueue = new QueueClient(connection, `${name}-dl`);
  await deadLetterQueue.createIfNotExists();
  const deadLetters = (await deadLetterQueue.getProperties()).approximateMessagesCount ?? 0;
  assert.equal((await queue.getProperties()).approximateMessagesCount, 0, 'nothing left queued');
  return { outcomes, id, deadLetters };
}

function deliveredCount(id: string): number {
  return vs.stack.smtpServer.received.filter((message) => message.raw.includes(stableMessageId(id, LOCAL_MAILBOX))).length;
}

test('Key Vault answering 503 (more often than the SDK retries): the message waits, then is delivered exactly once', async () => {
  const requestsBefore = vs.vault.requests;
  const run = await deliverThrough(() => vs.vault.failNext(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', 12));
  assert.equal(deliveredCount(run.id), 1);
  assert.equal(run.deadLetters, 0);
  assert.ok(vs.vault.requests - requestsBefore >= 12, 'every injected 503 was met');
});

test('Key Vault not answering (connections dropped, as on a timeout): the message waits, then is delivered exactly once', async () => {
  const run = await deliverThrough(() => vs.vault.dropNext(12));
  assert.equal(deliveredCount(run.id), 1);
  assert.equal(run.deadLetters, 0);
  assert.ok(
    run.outcomes.some((outcome) => outcome.status === 'retry-scheduled'),
    'the relay retried the message itself',
  );
});
