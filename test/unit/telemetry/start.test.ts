/**
 * The telemetry setup (src/telemetry): the Azure Monitor distro is loaded only when Application
 * Insights is configured (cold start, issue 17), its options keep every log record whatever the
 * trace sampler does, and the loggers switch between lines and records without ever doing both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../../src/core/log';
import { distroOptions, entraAuthentication, startTelemetry, telemetryLogger, telemetryStarted } from '../../../src/telemetry';
import { PACKAGE_ROOT } from '../../support/paths';

const loadedDistro = () =>
  Object.keys(require.cache).filter((path) => /[\\/]@azure[\\/](monitor-opentelemetry|functions-opentelemetry-instrumentation)[\\/]/.test(path));

test('without APPLICATIONINSIGHTS_CONNECTION_STRING nothing starts and the distro is never loaded, not even by the Functions entry', () => {
  assert.equal(startTelemetry({}), false);
  assert.equal(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: '  ' }), false);
  const saved = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the compiled entry every registration imports first
    require(`${PACKAGE_ROOT}/dist/functions/lib/telemetry.js`);
  } finally {
    if (saved !== undefined) process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = saved;
  }
  assert.equal(telemetryStarted(), false);
  assert.deepEqual(loadedDistro(), []);
});

test('without telemetry the process logs lines: telemetryLogger hands back the line logger unchanged', () => {
  const lines: Logger = { info() {}, warn() {}, error() {} };
  assert.equal(telemetryLogger(lines), lines);
});

test("the distro's options: no trace-based sampling of log records, a fixed 100 % instead of 5 traces a second, the connection string passed on", () => {
  const options = distroOptions({ APPLICATIONINSIGHTS_CONNECTION_STRING: ' InstrumentationKey=k;IngestionEndpoint=https://example.invalid/ ' });
  assert.equal(options.enableTraceBasedSamplingForLogs, false);
  assert.equal(options.samplingRatio, 1);
  assert.equal(options.tracesPerSecond, 0);
  assert.equal(options.azureMonitorExporterOptions?.connectionString, 'InstrumentationKey=k;IngestionEndpoint=https://example.invalid/');
  assert.equal(options.instrumentationOptions?.console?.enabled, false);
});

test("the distro's options: only the instrumentations the relay uses (HTTP and the Azure SDK), none of its database ones", () => {
  const { instrumentationOptions } = distroOptions({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=k' });
  for (const name of ['mongoDb', 'mySql', 'postgreSql', 'redis', 'redis4'] as const) assert.equal(instrumentationOptions?.[name]?.enabled, false, name);
  // Left at the distro's defaults (on): the dependencies the relay calls show in Application Insights.
  assert.equal(instrumentationOptions?.http, undefined);
  assert.equal(instrumentationOptions?.azureSdk, undefined);
});

test('APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Entra auth with the identity it names, in any order and case; anything else is no Entra auth', () => {
  assert.deepEqual(entraAuthentication('ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD'), {
    clientId: '11111111-2222-3333-4444-555555555555',
  });
  assert.deepEqual(entraAuthentication('authorization=aad'), {});
  assert.equal(entraAuthentication(undefined), undefined);
  assert.equal(entraAuthentication(''), undefined);
  assert.equal(entraAuthentication('Authorization=Key'), undefined);
});
