/**
 * The monitor over the parts it needs, which src/app hands it from the process:
 * the secret source, the token cache, an SMTP login to prove, the sender and
 * address for alert e-mails, the container of its state, what the send path met,
 * and (when rotation is on) the Key Vault writer.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { MonitorSettings, RotationSettings } from '../settings';
import type { Logger } from '../core/log';
import type { ClientSecretProvider } from '../secrets/types';
import type { TokenCache } from '../token/tokenCache';
import type { MailSender } from '../smtp';
import type { MessageSender } from '../delivery/ports';
import type { AlertChannel } from './alerts';
import { emailChannel, webhookChannel } from './channels';
import type { MailboxCondition } from './mailboxConditions';
import { MonitorStateStore } from './monitorState';
import { runSecretMonitor, type MonitorReport, type SecretRotationStep } from './secretMonitor';
import { SecretRotator, type RotationOAuth } from './rotation';

export { runSecretMonitor, type MonitorReport, type SecretMonitorDependencies } from './secretMonitor';
export { MonitorStateStore, type MonitorState } from './monitorState';
export { assessSecret } from './assessSecret';
export { monitorSchedule, MONITOR_RUN_ON_STARTUP } from './schedule';
export { ALERT_EVENT, type Alert, type AlertName } from './alerts';

export interface SecretMonitor {
  run(logger: Logger): Promise<MonitorReport>;
}

export interface SecretMonitorParts {
  settings: MonitorSettings;
  /** Absent with federation (no secret). */
  secrets?: ClientSecretProvider;
  /** Key Vault secret name, for alert texts and the state blob's name. */
  secretName?: string;
  /** Names the state blob instead of the secret name: one per sender (RELAY_SENDERS), so senders never share alert state. */
  stateKey?: string;
  /** Absent when OAuth2 is off. */
  tokens?: TokenCache;
  /** Proves SMTP login (its own connection: nodemailer's pool cannot open one without a message). */
  smtp: Pick<MailSender, 'verify'>;
  /** Alert e-mails go through the relay itself, from this address. */
  alertMail: { sender: MessageSender; from: string };
  /** TLS_EXTRA_CA_FILE, for the alert webhook. */
  extraCa?: string;
  /** Holds the monitor's state and the rotation lease. */
  stateContainer: ContainerClient;
  /** What the send path met on this instance (a full mailbox, the daily quota). */
  mailbox?: { name?: string; current(now: number): MailboxCondition[] };
  /** Present when rotation can run (ROTATION_ENABLED, a Microsoft Entra secret in Key Vault). */
  rotation?: {
    settings: RotationSettings;
    oauth: RotationOAuth;
    secretName: string;
    secrets: ClientSecretProvider;
    vault: Pick<SecretClient, 'setSecret'>;
  };
}

export interface SecretMonitorOptions {
  now?: () => number;
  /** Tests: no waits between proofs of a new secret. */
  proofDelaysMs?: number[];
}

function alertChannels(settings: MonitorSettings, alertMail: SecretMonitorParts['alertMail'], extraCa: string | undefined): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (settings.alertEmailTo) channels.push(emailChannel(alertMail.sender, alertMail.from, settings.alertEmailTo));
  if (settings.alertWebhookUrl) channels.push(webhookChannel(settings.alertWebhookUrl, extraCa));
  return channels;
}

/** `run`'s logger is expected to redact (src/app wraps it). */
export function createSecretMonitor(parts: SecretMonitorParts, options: SecretMonitorOptions = {}): SecretMonitor {
  const { settings } = parts;
  const state = new MonitorStateStore(parts.stateContainer, `secret-monitor/${parts.stateKey ?? parts.secretName ?? 'relay'}.json`);
  const channels = alertChannels(settings, parts.alertMail, parts.extraCa);
  const rotation = createRotator(parts, options);
  return {
    run: (logger) =>
      runSecretMonitor(
        {
          settings,
          secrets: parts.secrets,
          secretName: parts.secretName,
          tokens: parts.tokens,
          sender: parts.smtp,
          state,
          channels,
          rotation,
          mailbox: parts.mailbox,
          now: options.now,
        },
        logger,
      ),
  };
}

function createRotator(parts: SecretMonitorParts, options: SecretMonitorOptions): SecretRotationStep | undefined {
  if (!parts.rotation) return undefined;
  return new SecretRotator({ ...parts.rotation, leaseContainer: parts.stateContainer, extraCa: parts.extraCa, proofDelaysMs: options.proofDelaysMs });
}
