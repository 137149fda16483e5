/**
 * The sender id travels with a routed message's outcome: the dead-letter record, the ledger entry
 * (so status / GET /api/messages/{id} can show it) and the metrics. The id is the operator's
 * (RELAY_SENDERS), never the producer's text: a message naming an unknown sender carries none.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { RelayError } from '../../../src/core/errors';
import { relayQueueMessage, type SenderDirectory, type SenderRoute } from '../../../src/relay/handler';
import type { DeadLetterInput, DeadLetterReceipt, MessageSender, SentMessage } from '../../../src/delivery/ports';
import type { ClaimContext, ClaimResult, DeliveryLedger, LedgerEntry } from '../../../src/delivery/ledger';
import { LEDGER_SCHEMA } from '../../../src/delivery/ledger';
import { statusOf } from '../../../src/delivery/messageStatus';
import { formatStatus } from '../../../src/cli/status';
import { METRIC_NAMES } from '../../../src/telemetry/metrics';
import type { Logger } from '../../../src/core/log';

const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
before(() => metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] })));
after(async () => {
  await reader.shutdown();
  metrics.disable();
});

const defaultMail = { user: 'relay@contoso.com', from: 'relay@contoso.com', allowedFrom: [], maxRecipients: 500 };
const billingMail = { user: 'billing@fabrikam.com', from: 'billing@fabrikam.com', allowedFrom: ['billing@fabrikam.com'], maxRecipients: 500 };
const config = { mail: defaultMail, queue: { maxDequeueCount: 5 } } as unknown as Parameters<typeof relayQueueMessage>[2]['config'];
const ok: SentMessage = { messageId: '<x@fabrikam.com>', response: '250 2.0.0 OK', accepted: ['ada@example.net'], rejected: [] };
const refused = new RelayError('550 5.7.60 not allowed to send as this sender', { reason: 'sender_rejected', kind: 'permanent' });
const throttled = new RelayError('432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded', { reason: 'smtp_throttled', kind: 'transient' });

const quiet: Logger = { info() {}, warn() {}, error() {} };

function smtp(result: SentMessage | RelayError): MessageSender {
  return {
    async send() {
      if (result instanceof RelayError) throw result;
      return result;
    },
  };
}

function directory(billing: MessageSender): SenderDirectory {
  const routes: Record<string, SenderRoute> = {
    default: { id: 'default', mail: defaultMail, sender: smtp(ok) },
    billing: { id: 'billing', mail: billingMail, sender: billing },
  };
  return {
    routing: {
      defaultId: 'default',
      senders: [
        { id: 'default', from: defaultMail.from, allowedFrom: [], maxRecipients: 500 },
        { id: 'billing', from: billingMail.from, allowedFrom: billingMail.allowedFrom, maxRecipients: 500 },
      ],
    },
    route: (id) => routes[id]!,
  };
}

function deadLetterSink() {
  const written: DeadLetterInput[] = [];
  return {
    written,
    async write(input: DeadLetterInput): Promise<DeadLetterReceipt> {
      written.push(input);
      return { recordId: `r${written.length}`, queueMessageId: `q${written.length}` };
    },
  };
}

/** A ledger that only records what each claim was told (the blob ledger's writing is tested on Azurite). */
function recordingLedger(): DeliveryLedger & { contexts: ClaimContext[] } {
  const contexts: ClaimContext[] = [];
  const entry = (key: string): LedgerEntry => ({ schema: LEDGER_SCHEMA, key, state: 'sending', owner: 'o', claims: 1, claimedAt: 'now', updatedAt: 'now' });
  return {
    contexts,
    leaseSeconds: 60,
    async claim(key: string, context: ClaimContext): Promise<ClaimResult> {
      contexts.push(context);
      return { outcome: 'claimed', claim: { key, owner: 'o', etag: 'e', entry: entry(key) } };
    },
    async renew() {},
    async markSent() {},
    async release() {},
    async markDeadLettered() {},
    async reopen() {
      return 'not-found';
    },
    async read() {
      return undefined;
    },
  };
}

async function points(name: string): Promise<Array<{ attributes: Record<string, unknown>; value: unknown }>> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((candidate) => candidate.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((point) => ({ attributes: point.attributes, value: point.value }));
}

test("a routed message's dead-letter record and ledger claim carry the sender it was routed to", async () => {
  const sink = deadLetterSink();
  const ledger = recordingLedger();
  const message = JSON.stringify({ id: 'inv-1', sender: 'billing', to: 'ada@example.net', subject: 's', text: 't' });
  const outcome = await relayQueueMessage(
    message,
    { dequeueCount: 1, queueMessageId: 'm1' },
    { config, sender: smtp(ok), senders: directory(smtp(refused)), deadLetters: sink, ledger },
    quiet,
  );
  assert.equal(outcome.status, 'dead-lettered');
  assert.equal(sink.written[0]!.sender, 'billing');
  assert.equal(ledger.contexts[0]!.sender, 'billing');
});

test("without RELAY_SENDERS the record says `default`; a message naming an unknown sender carries no sender (its text is the producer's)", async () => {
  const sink = deadLetterSink();
  await relayQueueMessage(
    JSON.stringify({ to: 'ada@example.net', subject: 's', text: 't' }),
    { dequeueCount: 1 },
    { config, sender: smtp(refused), deadLetters: sink },
    quiet,
  );
  assert.equal(sink.written[0]!.sender, 'default');
  const unknown = JSON.stringify({ sender: 'payroll', to: 'ada@example.net', subject: 's', text: 't' });
  const outcome = await relayQueueMessage(unknown, { dequeueCount: 1 }, { config, sender: smtp(ok), senders: directory(smtp(ok)), deadLetters: sink }, quiet);
  assert.equal(outcome.status === 'dead-lettered' && outcome.reason, 'sender_not_allowed');
  assert.equal(sink.written[1]!.sender, undefined);
});

test('status and GET /api/messages/{id} show the sender the ledger knows, and leave it out when it does not', () => {
  const entry: LedgerEntry = {
    schema: LEDGER_SCHEMA,
    key: 'id:inv-1',
    state: 'dead-lettered',
    owner: 'o',
    claims: 1,
    claimedAt: 'c',
    updatedAt: 'u',
    sender: 'billing',
  };
  const status = statusOf(entry, 'inv-1', 'id');
  assert.equal(status.sender, 'billing');
  assert.match(formatStatus(status), /^sender {14}billing$/m);
  assert.equal('sender' in statusOf({ ...entry, sender: undefined }, 'inv-1', 'id'), false);
});

test('delivered, dead_lettered, retried and throttled carry the sender id as an attribute', async () => {
  const deliveredMessage = JSON.stringify({ sender: 'billing', to: 'ada@example.net', subject: 's', text: 't' });
  await relayQueueMessage(
    deliveredMessage,
    { dequeueCount: 1 },
    { config, sender: smtp(ok), senders: directory(smtp(ok)), deadLetters: deadLetterSink() },
    quiet,
  );
  await relayQueueMessage(
    deliveredMessage,
    { dequeueCount: 1 },
    { config, sender: smtp(ok), senders: directory(smtp(refused)), deadLetters: deadLetterSink() },
    quiet,
  );
  await assert.rejects(
    relayQueueMessage(
      deliveredMessage,
      { dequeueCount: 1 },
      { config, sender: smtp(ok), senders: directory(smtp(throttled)), deadLetters: deadLetterSink() },
      quiet,
    ),
  );
  const billing = (list: Array<{ attributes: Record<string, unknown> }>) => list.filter((point) => point.attributes.sender === 'billing');
  assert.equal(billing(await points(METRIC_NAMES.delivered)).length, 1);
  assert.deepEqual(
    billing(await points(METRIC_NAMES.deadLettered)).map((point) => point.attributes),
    [{ reason: 'sender_rejected', sender: 'billing' }],
  );
  assert.deepEqual(
    billing(await points(METRIC_NAMES.retried)).map((point) => point.attributes),
    [{ reason: 'smtp_throttled', sender: 'billing' }],
  );
  assert.equal(billing(await points(METRIC_NAMES.throttled)).length, 1);
  assert.equal(billing(await points(METRIC_NAMES.latency)).length, 1);
});
