/** Telemetry: OpenTelemetry log records with the events' fields as attributes, and the process's export setup. */
import type { Logger } from '../core/log';
import { openTelemetryLogger } from './logger';
import { telemetryStarted } from './start';

export { startTelemetry, telemetryStarted, distroOptions, entraAuthentication, CONNECTION_STRING_SETTING, AUTHENTICATION_STRING_SETTING } from './start';
export { openTelemetryLogger, logRecordOf } from './logger';
export { toAttributes } from './attributes';

/**
 * The logger to use in this process: OpenTelemetry records once telemetry runs (Azure), else
 * `lines` (context.log, the console: a local run). Never both, so nothing reaches Application
 * Insights twice (the Functions instrumentation forwards context.log lines too).
 */
export function telemetryLogger(lines: Logger): Logger {
  return telemetryStarted() ? openTelemetryLogger() : lines;
}
