/**
 * Issue 13, point 1: sampling never drops a dead-letter event. The relay's telemetry is started as
 * the Functions entry starts it (startTelemetry, the Azure Monitor distro with the relay's options),
 * under a trace sampler that drops every span (OTEL_TRACES_SAMPLER=always_off, which the distro
 * honours before its own options), and exported to a loopback double of the Application Insights
 * ingestion endpoint. A queue message runs through the relay inside an invocation span, as the
 * Functions instrumentation runs it: the span is sampled out, the dead-letter and delivery records
 * of that trace still arrive, with the event's fields as customDimensions and the trace's operation id,
 * and so do the metrics with their reason.
 *
 * Runs in its own process (node --test runs each file in one): the distro registers process-wide.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { shutdownAzureMonitor } from '@azure/monitor-opentelemetry';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { silentLogger } from '../../../src/core/log';
import { METRIC_NAMES } from '../../../src/telemetry/metrics';
import { startTelemetry, telemetryLogger, telemetryStarted } from '../../../src/telemetry';
import { IngestionDouble } from '../../doubles/ingestionDouble';
import { contextLogger } from '../../../functions/lib/invocation';
import { RelayHarness } from '../../support/relayHarness';

let stack: LocalStack;
let ingestion: IngestionDouble;

before(async () => {
  // Everything else is dropped: no span is sampled in.
  process.env.OTEL_TRACES_SAMPLER = 'always_off';
  // The exporters' own usage reports would go to Microsoft's endpoints.
  process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
  process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';
  stack = await startLocalStack({ inMemory: true });
  // The exporter trusts the system's CAs only: add the local CA that signed the double's certificate.
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), stack.certs.caPem]);
  ingestion = await IngestionDouble.start({ certPem: stack.certs.certPem, keyPem: stack.certs.keyPem });
  assert.equal(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString() }), true);
});
after(async () => {
  await stack?.close();
  await ingestion?.close();
});

test('under a sampler that drops every span, the dead-letter and delivery records of a sampled-out invocation reach Application Insights with their customDimensions, and so do the metrics', async () => {
  assert.ok(telemetryStarted());
  // The logger the Functions entry hands the relay once telemetry runs: OpenTelemetry records, no lines.
  const harness = await new RelayHarness(stack, { name: 'otel-sampling', runtime: true, logger: telemetryLogger(silentLogger) }).start();
  let traceId = '';
  let sampled = true;
  try {
    await harness.enqueue('invalid', { id: 'otel-sampling-invalid', subject: 'no recipient', text: 'x' });
    await harness.enqueue('valid', { id: 'otel-sampling-valid', to: 'rcpt@example.net', subject: 'sampled out', text: 'x' });
    await trace.getTracer('test').startActiveSpan('relayOutboundMail', async (span) => {
      traceId = span.spanContext().traceId;
      sampled = span.isRecording();
      await harness.drain(30_000);
      span.setStatus({ code: SpanStatusCode.OK });
      span.end();
    });
    const result = await harness.reconcile();
    assert.equal(result.deadLettered, 1, result.summary);
    assert.equal(result.delivered, 1, result.summary);
  } finally {
    await harness.close();
  }
  assert.equal(sampled, false, 'the invocation span is sampled out');
  // The queue function's own adapter: records only, no context.log line (the instrumentation would forward it as a second copy).
  const lines: string[] = [];
  const context = { info: (line: string) => lines.push(line), warn: (line: string) => lines.push(line), error: (line: string) => lines.push(line) };
  contextLogger(context as unknown as Parameters<typeof contextLogger>[0]).warn('from the invocation adapter', {
    event: 'relay.retry',
    reason: 'smtp_throttled',
    attempt: 3,
  });
  assert.deepEqual(lines, []);
  // Flushes every provider (log records, spans, metrics) to the ingestion double.
  await shutdownAzureMonitor();

  const traces = ingestion.messages();
  const deadLetter = traces.find((envelope) => envelope.data.baseData.properties?.event === 'relay.dead_lettered');
  assert.ok(deadLetter, `a relay.dead_lettered trace (got ${JSON.stringify(traces.map((envelope) => envelope.data.baseData.properties?.event))})`);
  const dimensions = deadLetter.data.baseData.properties!;
  assert.equal(deadLetter.data.baseData.message, 'permanent failure, message dead-lettered');
  assert.equal(dimensions.reason, 'invalid_message');
  assert.equal(dimensions.kind, 'permanent');
  assert.ok(dimensions.recordId, 'the dead-letter record id');
  assert.ok(dimensions.remedy, 'the remedy');
  assert.equal(deadLetter.tags?.['ai.operation.id'], traceId, 'correlated with the invocation');
  console.log('sample customDimensions of a dead-letter trace:', JSON.stringify(dimensions));

  const adapted = traces.find((envelope) => envelope.data.baseData.message === 'from the invocation adapter');
  assert.deepEqual(
    { event: adapted?.data.baseData.properties?.event, reason: adapted?.data.baseData.properties?.reason, attempt: adapted?.data.baseData.properties?.attempt },
    { event: 'relay.retry', reason: 'smtp_throttled', attempt: '3' },
  );

  const delivered = traces.find((envelope) => envelope.data.baseData.properties?.event === 'relay.delivered');
  assert.equal(delivered?.data.baseData.properties?.messageKey, 'otel-sampling-valid');

  // The sampler did drop the rest: no request or dependency of that trace was sent.
  const spans = ingestion.envelopes.filter((envelope) => ['RequestData', 'RemoteDependencyData'].includes(envelope.data.baseType));
  assert.deepEqual(
    spans.filter((envelope) => envelope.tags?.['ai.operation.id'] === traceId),
    [],
  );

  const metricRows = ingestion.envelopes.filter((envelope) => envelope.data.baseType === 'MetricData');
  const deadLetterMetric = metricRows.find((envelope) => envelope.data.baseData.metrics?.[0]?.name === METRIC_NAMES.deadLettered);
  assert.equal(deadLetterMetric?.data.baseData.properties?.reason, 'invalid_message');
  assert.equal(deadLetterMetric?.data.baseData.metrics?.[0]?.value, 1);
  assert.ok(metricRows.some((envelope) => envelope.data.baseData.metrics?.[0]?.name === METRIC_NAMES.delivered));
});
