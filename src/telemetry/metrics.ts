/**
 * The relay's outcomes as OpenTelemetry metrics, for Application Insights (customMetrics) and any other
 * OpenTelemetry backend. Through the API alone (a few kB): without a registered SDK (local runs, the
 * tests, the CLI) every call is a no-op. src/core stays free of packages, so the instruments live here,
 * one row above it; docs/operations.md lists each one.
 */
import type { Counter, Histogram, MeterProvider } from '@opentelemetry/api';
import type { ReasonCode } from '../core/errors';

/** The instrumentation scope of every relay instrument (and of its log records). */
export const TELEMETRY_SCOPE = 'oauth2-smtp-relay';

/** The metric names, in OpenTelemetry style (dot-separated namespaces, snake_case words). */
export const METRIC_NAMES = {
  delivered: 'relay.messages.delivered',
  deadLettered: 'relay.messages.dead_lettered',
  retried: 'relay.messages.retried',
  throttled: 'relay.smtp.throttled',
  latency: 'relay.delivery.latency',
  tokenRequests: 'relay.token.requests',
  keyVaultReads: 'relay.keyvault.reads',
} as const;

/**
 * The attributes the instruments carry (each a small closed set: reason codes, two outcomes, and the
 * sender ids the operator declared in RELAY_SENDERS, or `default`; never a producer's text).
 */
export const METRIC_ATTRIBUTES = ['reason', 'outcome', 'sender'] as const;

export type RequestOutcome = 'success' | 'failure';

interface Instruments {
  provider: MeterProvider;
  delivered: Counter;
  deadLettered: Counter;
  retried: Counter;
  throttled: Counter;
  latency: Histogram;
  tokenRequests: Counter;
  keyVaultReads: Counter;
}

let instruments: Instruments | undefined;

/** The metrics API, loaded with the first outcome rather than with the function modules (cold start, issue 17). */
let api: typeof import('@opentelemetry/api') | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
const metricsApi = () => (api ??= require('@opentelemetry/api') as typeof import('@opentelemetry/api')).metrics;

/**
 * Created on first use, and again when the global provider changed: the metrics API has no proxy, so
 * an instrument made before the SDK registered would stay a no-op for the life of the process.
 */
function relayInstruments(): Instruments {
  const provider = metricsApi().getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter(TELEMETRY_SCOPE);
  const counter = (name: string, description: string, unit: string) => meter.createCounter(name, { description, unit });
  instruments = {
    provider,
    delivered: counter(METRIC_NAMES.delivered, 'Messages the SMTP server accepted (250).', '{message}'),
    deadLettered: counter(METRIC_NAMES.deadLettered, 'Messages dead-lettered, by reason.', '{message}'),
    retried: counter(METRIC_NAMES.retried, 'Failed attempts that will be tried again (retry copy or redelivery), by reason.', '{attempt}'),
    throttled: counter(METRIC_NAMES.throttled, 'Attempts that ended with the SMTP server throttling the mailbox.', '{attempt}'),
    latency: meter.createHistogram(METRIC_NAMES.latency, {
      description: 'From the first enqueue of the message to the SMTP server accepting it, retries included.',
      unit: 'ms',
    }),
    tokenRequests: counter(METRIC_NAMES.tokenRequests, 'Access token requests to the token endpoint, by outcome (and reason when failed).', '{request}'),
    keyVaultReads: counter(METRIC_NAMES.keyVaultReads, 'Reads of the client secret from Key Vault, by outcome (and reason when failed).', '{request}'),
  };
  return instruments;
}

/** `sender` only when the message was routed (a message the relay could not read has none). */
function withSender(attributes: Record<string, string>, sender: string | undefined): Record<string, string> {
  return sender === undefined ? attributes : { ...attributes, sender };
}

/** The one call per queue-message outcome (src/relay/handler.ts); `sender` is the routed sender's id. */
export const relayMetrics = {
  delivered(latencyMs: number | undefined, sender?: string): void {
    const meter = relayInstruments();
    const attributes = withSender({}, sender);
    meter.delivered.add(1, attributes);
    if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) meter.latency.record(latencyMs, attributes);
  },
  deadLettered(reason: ReasonCode, sender?: string): void {
    relayInstruments().deadLettered.add(1, withSender({ reason }, sender));
  },
  retried(reason: ReasonCode, sender?: string): void {
    const meter = relayInstruments();
    meter.retried.add(1, withSender({ reason }, sender));
    if (reason === 'smtp_throttled') meter.throttled.add(1, withSender({}, sender));
  },
  tokenRequest(outcome: RequestOutcome, reason?: ReasonCode): void {
    relayInstruments().tokenRequests.add(1, reason ? { outcome, reason } : { outcome });
  },
  keyVaultRead(outcome: RequestOutcome, reason?: ReasonCode): void {
    relayInstruments().keyVaultReads.add(1, reason ? { outcome, reason } : { outcome });
  },
};
