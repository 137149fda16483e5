/**
 * Alerts about the client secret and the relay's ability to sign in. Each has a
 * stable name and a severity, and is always written as one structured log event
 * (`event: "monitor.alert"`) that an Azure Monitor alert rule can match; e-mail
 * and webhook channels are optional extras.
 */
import type { Logger } from '../core/log';
import { redact, redactValue } from '../core/redact';

export type AlertSeverity = 'critical' | 'error' | 'warning' | 'info';

export type AlertName =
  | 'secret_expiry_warning'
  | 'secret_expiry_critical'
  | 'secret_expired'
  | 'secret_no_expiry'
  | 'secret_disabled'
  | 'secret_unreadable'
  | 'token_acquisition_failed'
  | 'secret_rotation_failed'
  // seen on the send path (src/monitor/mailboxConditions.ts)
  | 'mailbox_full'
  | 'sending_quota_exceeded';

export interface Alert {
  name: AlertName;
  severity: AlertSeverity;
  /** One line for a subject or a chat title. */
  summary: string;
  /** What to do, naming the setting or portal blade. */
  remedy?: string;
  details: Record<string, unknown>;
}

/** Where alerts go besides the log: e-mail, a webhook. */
export interface AlertChannel {
  readonly name: string;
  deliver(alert: Alert): Promise<void>;
}

export const ALERT_EVENT = 'monitor.alert';

/** The log event every alert produces, at the level its severity asks for. */
export function logAlert(alert: Alert, logger: Logger): void {
  const props = redactValue({ event: ALERT_EVENT, alert: alert.name, severity: alert.severity, remedy: alert.remedy, ...alert.details });
  const message = redact(`ALERT ${alert.name} (${alert.severity}): ${alert.summary}`);
  if (alert.severity === 'critical' || alert.severity === 'error') logger.error(message, props);
  else if (alert.severity === 'warning') logger.warn(message, props);
  else logger.info(message, props);
}

/** Log the alert, then hand it to every channel; a failing channel is logged, never thrown. */
export async function raiseAlert(alert: Alert, channels: AlertChannel[], logger: Logger): Promise<void> {
  logAlert(alert, logger);
  await Promise.all(
    channels.map((channel) =>
      channel.deliver(alert).catch((error: unknown) =>
        logger.warn('an alert could not be delivered', {
          event: 'monitor.alert_delivery_failed',
          alert: alert.name,
          channel: channel.name,
          error: redact(error instanceof Error ? error.message : String(error)),
        }),
      ),
    ),
  );
}

/** Plain text of an alert for e-mail bodies and chat messages. */
export function alertText(alert: Alert): string {
  const lines = [`${alert.severity.toUpperCase()} ${alert.name}: ${alert.summary}`];
  if (alert.remedy) lines.push('', `What to do: ${alert.remedy}`);
  const details = Object.entries(alert.details).filter(([, value]) => value !== undefined);
  if (details.length) lines.push('', ...details.map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`));
  return redact(lines.join('\n'));
}
