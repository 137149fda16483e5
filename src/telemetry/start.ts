/**
 * Telemetry for the Functions process, as the Azure Functions documentation recommends for the
 * Node.js v4 model ("Use OpenTelemetry with Azure Functions"): host.json `"telemetryMode":
 * "OpenTelemetry"`, and in the worker the Azure Monitor OpenTelemetry distro (`useAzureMonitor`)
 * plus the Functions instrumentation, which tells the host the worker sends its own telemetry
 * (so nothing is sent twice) and binds each invocation to the host's trace. Why this path and
 * what each option is for: docs/operations.md.
 *
 * The distro is loaded only when APPLICATIONINSIGHTS_CONNECTION_STRING is set, and the OpenTelemetry
 * API only on first use: both are large and the cold start is short (issue 17). Without it (a local run, Core Tools, the tests, the CLI) the
 * relay logs through the host's context.log or the console, and the metrics are no-ops.
 */
import type { AzureMonitorOpenTelemetryOptions } from '@azure/monitor-opentelemetry';

export const CONNECTION_STRING_SETTING = 'APPLICATIONINSIGHTS_CONNECTION_STRING';

let started = false;

/** True once this process exports telemetry: loggers then emit OpenTelemetry records instead of writing lines. */
export function telemetryStarted(): boolean {
  return started;
}

export const AUTHENTICATION_STRING_SETTING = 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING';

/**
 * The managed identity named by APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`Authorization=AAD` and
 * optionally `ClientId=<client id>`, as infra/ sets it for an Application Insights with local auth
 * disabled). The Functions host reads that setting itself; the distro's exporters do not (only its
 * live metrics do), so without this credential the worker's telemetry would be refused.
 */
export function entraAuthentication(value: string | undefined): { clientId?: string } | undefined {
  if (!value?.trim()) return undefined;
  const pairs = new Map<string, string>();
  for (const pair of value.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) pairs.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  if (pairs.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  const clientId = pairs.get('clientid');
  return clientId ? { clientId } : {};
}

/**
 * The distro's options. Sampling must never drop a dead-letter, alert or delivery-failure event:
 * - `enableTraceBasedSamplingForLogs: false`: a log record is exported whatever became of its
 *   trace. (With it on, the distro drops the records of sampled-out traces; in Functions the
 *   parent span is often non-recording, which would drop them all.)
 * - `samplingRatio: 1` and `tracesPerSecond: 0`: spans are kept at a fixed 100 % instead of the
 *   distro's default of 5 traces a second. Spans carry none of the relay's events; an operator
 *   who needs fewer spans may set OTEL_TRACES_SAMPLER(_ARG), and the log records stay complete.
 */
export function distroOptions(env: NodeJS.ProcessEnv = process.env): AzureMonitorOpenTelemetryOptions {
  return {
    azureMonitorExporterOptions: { connectionString: env[CONNECTION_STRING_SETTING]?.trim() },
    samplingRatio: 1,
    tracesPerSecond: 0,
    enableTraceBasedSamplingForLogs: false,
    instrumentationOptions: {
      // The relay's own events are log records; console lines would be a second copy of some.
      console: { enabled: false },
      // The relay talks HTTP (storage, token endpoint, Key Vault, Graph) through the Azure SDK and nodemailer's
      // sockets, never to a database: the distro's database instrumentations (on by default) would only
      // hook every later require and cost start time (issue 17).
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
    },
  };
}

/** Starts export once per process when Application Insights is configured; returns whether it runs. */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): boolean {
  if (started) return true;
  if (!env[CONNECTION_STRING_SETTING]?.trim()) return false;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when telemetry is on (cold start) */
  const { useAzureMonitor } = require('@azure/monitor-opentelemetry') as typeof import('@azure/monitor-opentelemetry');
  const { AzureFunctionsInstrumentation } =
    require('@azure/functions-opentelemetry-instrumentation') as typeof import('@azure/functions-opentelemetry-instrumentation');
  const { logs } = require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs');
  const { metrics, trace } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const options = distroOptions(env);
  const entra = entraAuthentication(env[AUTHENTICATION_STRING_SETTING]);
  if (entra) {
    const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
    options.azureMonitorExporterOptions!.credential = entra.clientId
      ? new ManagedIdentityCredential({ clientId: entra.clientId })
      : new ManagedIdentityCredential();
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  useAzureMonitor(options);
  // What registerInstrumentations() does, without importing @opentelemetry/instrumentation (not a
  // dependency of ours): hand the instrumentation the registered providers; it enables itself.
  const functionsInstrumentation = new AzureFunctionsInstrumentation();
  functionsInstrumentation.setTracerProvider(trace.getTracerProvider());
  functionsInstrumentation.setMeterProvider(metrics.getMeterProvider());
  functionsInstrumentation.setLoggerProvider(logs.getLoggerProvider());
  started = true;
  return true;
}
