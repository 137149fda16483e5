/**
 * Issue 13, point 1: the relay's telemetry as an OpenTelemetry exporter receives it. Queue messages go
 * through the relay as src/app wires it (redaction included) on Azurite, the local token endpoint and
 * the local SMTP server; the logger is the one the Functions entry uses once telemetry runs
 * (src/telemetry), and the SDK's in-memory exporters stand where Azure Monitor's would.
 *
 * Each event's fields must arrive as attributes (customDimensions), never inside the message text;
 * the metrics must carry their reason and outcome; no secret may reach the exporter.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { logs } from '@opentelemetry/api-logs';
import { metrics } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { openTelemetryLogger } from '../../../src/telemetry';
import { redactingLogger } from '../../../src/core/redact';
import { METRIC_NAMES } from '../../../src/telemetry/metrics';
import { RelayHarness } from '../../support/relayHarness';

let stack: LocalStack;
let counter = 0;
const logExporter = new InMemoryLogRecordExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });

before(async () => {
  logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [metricReader] }));
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
  await metricReader.shutdown();
});
afterEach(() => logExporter.reset());

function message(id: string, extra: Record<string, unknown> = {}) {
  return { id, to: 'rcpt@example.net', subject: `telemetry ${id}`, text: `body of ${id}`, ...extra };
}

async function runtimeHarness(): Promise<RelayHarness> {
  // What the Functions entry hands the relay once telemetry runs; src/app wraps it in redaction.
  return new RelayHarness(stack, { name: `otel-${++counter}`, runtime: true, logger: openTelemetryLogger() }).start();
}

function recordOf(event: string, messageKey?: string): ReadableLogRecord {
  const found = logExporter
    .getFinishedLogRecords()
    .filter((record) => record.attributes.event === event && (messageKey === undefined || record.attributes.messageKey === messageKey));
  assert.equal(found.length, 1, `one ${event} record (of ${JSON.stringify(logExporter.getFinishedLogRecords().map((record) => record.attributes.event))})`);
  return found[0]!;
}

/** An attribute that must be a string. */
function text(value: unknown): string {
  assert.equal(typeof value, 'string');
  return value as string;
}

/** The data points of one instrument as the reader collects them now (cumulative since the process started). */
async function points(name: string): Promise<Array<DataPoint<unknown>>> {
  metricExporter.reset();
  await metricReader.forceFlush();
  const metricsNow =
    metricExporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics.flatMap((scope) => scope.metrics) ?? [];
  return metricsNow.filter((metric) => metric.descriptor.name === name).flatMap((metric) => metric.dataPoints as Array<DataPoint<unknown>>);
}

async function sumOf(name: string, attributes: Record<string, string> = {}): Promise<number> {
  let total = 0;
  for (const point of await points(name)) {
    if (Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)) total += point.value as number;
  }
  return total;
}

test('a delivered message: one relay.delivered record with its fields as attributes, the delivered counter, the latency histogram and a token request', async () => {
  const harness = await runtimeHarness();
  try {
    const deliveredBefore = await sumOf(METRIC_NAMES.delivered);
    await harness.enqueue('delivered', message(`otel-delivered-${counter}`));
    await harness.drain(30_000);
    assert.equal((await harness.reconcile()).delivered, 1);

    const record = recordOf('relay.delivered');
    assert.equal(record.body, 'mail delivered');
    assert.equal(record.severityText, 'INFO');
    const fields = record.attributes;
    assert.equal(fields.outcome, 'delivered');
    assert.equal(fields.messageKey, `otel-delivered-${counter}`);
    assert.equal(fields.attempt, 1);
    assert.equal(fields.recipients, 1);
    assert.match(text(fields.messageId), /^<.+@example\.com>$/);
    assert.match(text(fields.smtpReply), /^250 /);
    assert.equal(fields.accepted, '["rcpt@example.net"]');
    assert.equal(typeof fields.queueMessageId, 'string');
    assert.ok(typeof fields.latencyMs === 'number' && fields.latencyMs >= 0);
    assert.ok(typeof fields.durationMs === 'number');
    // Every value is a primitive (customDimensions are strings and numbers), and none hides in the body.
    for (const value of Object.values(fields)) assert.ok(['string', 'number', 'boolean'].includes(typeof value));
    assert.doesNotMatch(String(record.body), /[{"]/);
    console.log('sample relay.delivered attributes:', JSON.stringify(fields));

    assert.equal((await sumOf(METRIC_NAMES.delivered)) - deliveredBefore, 1);
    const latency = (await points(METRIC_NAMES.latency)).map((point) => point.value as { count: number; sum: number });
    assert.ok(latency.reduce((count, value) => count + value.count, 0) >= 1, 'the latency histogram has the delivery');
    assert.ok((await sumOf(METRIC_NAMES.tokenRequests, { outcome: 'success' })) >= 1, 'the token request is counted as a success');
  } finally {
    await harness.close();
  }
});

test('a message the relay cannot send: one relay.dead_lettered record with reason, kind, remedy and record id, and the dead-letter counter by reason', async () => {
  const harness = await runtimeHarness();
  try {
    const id = `otel-invalid-${counter}`;
    await harness.enqueue('invalid', { id, subject: 'no recipient', text: 'x' });
    await harness.drain(30_000);
    const result = await harness.reconcile();
    const [deadLetter] = result.deadLetters.get('invalid') ?? [];
    assert.ok(deadLetter, result.summary);

    // Unreadable, so without its id: the record names the queue message instead.
    const record = recordOf('relay.dead_lettered');
    assert.equal(record.severityText, 'ERROR');
    const fields = record.attributes;
    assert.equal(fields.reason, deadLetter.reason);
    assert.equal(fields.reason, 'invalid_message');
    assert.equal(fields.queueMessageId, deadLetter.queueMessageId);
    assert.equal(fields.kind, 'permanent');
    assert.equal(fields.attempt, 1);
    assert.equal(fields.finalAttempt, false);
    assert.equal(typeof fields.recordId, 'string');
    assert.equal(typeof fields.remedy, 'string');
    console.log('sample relay.dead_lettered attributes:', JSON.stringify(fields));

    assert.equal(await sumOf(METRIC_NAMES.deadLettered, { reason: deadLetter.reason }), 1);
  } finally {
    await harness.close();
  }
});

test('a throttled send: a relay.retry record with the reason, the retried counter by reason and the throttled counter, then delivered', async () => {
  // The harness's own parts (no mailbox throttle pausing the next attempt), behind redaction as src/app would put it.
  const harness = await new RelayHarness(stack, { name: `otel-${++counter}`, logger: redactingLogger(openTelemetryLogger()) }).start();
  try {
    const id = `otel-throttled-${counter}`;
    const throttledBefore = await sumOf(METRIC_NAMES.throttled);
    stack.smtpServer.failNext('data', { code: 451, message: '4.7.500 Server busy. Please try again later.' });
    await harness.enqueue('throttled', message(id));
    await harness.drain(30_000);
    assert.equal((await harness.reconcile()).deliveries.get('throttled'), 1);

    const retry = recordOf('relay.retry', id).attributes;
    assert.equal(retry.reason, 'smtp_throttled');
    assert.equal(retry.kind, 'transient');
    assert.equal(retry.attempt, 1);
    assert.match(text(retry.providerReply), /451/);
    assert.equal(recordOf('relay.delivered', id).attributes.attempt, 2);

    assert.ok((await sumOf(METRIC_NAMES.retried, { reason: 'smtp_throttled' })) >= 1);
    assert.equal((await sumOf(METRIC_NAMES.throttled)) - throttledBefore, 1);
  } finally {
    await harness.close();
  }
});

test('a secret in an event field never reaches the exporter: the client secret and a bearer token as the message id are masked', async () => {
  const harness = await runtimeHarness();
  const secret = stack.clientSecret;
  const bearer = 'Bearer abcdefghijklmnopqrstuvwxyz0123456789';
  try {
    await harness.enqueue('secret-id', message(`leak ${secret}`));
    await harness.enqueue('bearer-id', message(`leak ${bearer}`));
    await harness.drain(30_000);
    assert.equal((await harness.reconcile()).delivered, 2);

    const records = logExporter.getFinishedLogRecords();
    const delivered = records.filter((record) => record.attributes.event === 'relay.delivered');
    assert.equal(delivered.length, 2);
    assert.deepEqual(delivered.map((record) => record.attributes.messageKey).sort(), ['leak Bearer [redacted]', 'leak [redacted]']);
    const exported = JSON.stringify(records.map((record) => ({ body: record.body, attributes: record.attributes })));
    assert.ok(!exported.includes(secret), 'the client secret reached the exporter');
    assert.ok(!exported.includes('abcdefghijklmnopqrstuvwxyz0123456789'), 'the bearer token reached the exporter');
  } finally {
    await harness.close();
  }
});
