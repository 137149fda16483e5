/**
 * The relay's Logger over the OpenTelemetry Logs API: one log record per event, its message as the
 * body, its fields as attributes (customDimensions), with the severity. The record is emitted in the
 * active context, so it carries the invocation's trace (operation_Id) that the Functions
 * instrumentation puts there. Without a registered SDK the API's logger drops every record.
 */
import type { LogRecord } from '@opentelemetry/api-logs';
import { TELEMETRY_SCOPE } from './metrics';
import type { Logger } from '../core/log';
import { toAttributes } from './attributes';

type Level = 'info' | 'warn' | 'error';

type Severity = Pick<LogRecord, 'severityNumber' | 'severityText'>;

/** The Logs API, loaded on first use rather than with the function modules (cold start, issue 17). */
let api: typeof import('@opentelemetry/api-logs') | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
const logsApi = () => (api ??= require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs'));

let severities: Record<Level, Severity> | undefined;
function severity(level: Level): Severity {
  if (!severities) {
    const { SeverityNumber } = logsApi();
    severities = {
      info: { severityNumber: SeverityNumber.INFO, severityText: 'INFO' },
      warn: { severityNumber: SeverityNumber.WARN, severityText: 'WARN' },
      error: { severityNumber: SeverityNumber.ERROR, severityText: 'ERROR' },
    };
  }
  return severities[level];
}

/** The record for one event: what an exporter receives. */
export function logRecordOf(level: Level, message: string, props?: Record<string, unknown>): LogRecord {
  return { ...severity(level), body: message, attributes: toAttributes(props) };
}

/**
 * Give it redacted input: src/app hands loggers out only behind redactingLogger, which masks the
 * message and every field before they get here.
 */
export function openTelemetryLogger(): Logger {
  // The API's logger is a proxy until an SDK registers: asking for it once is enough.
  const logger = logsApi().logs.getLogger(TELEMETRY_SCOPE);
  const emit = (level: Level) => (message: string, props?: Record<string, unknown>) => logger.emit(logRecordOf(level, message, props));
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
