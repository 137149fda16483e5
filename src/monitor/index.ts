/**
 * The monitor wired to the relay of this process: its secret source, token
 * cache and mail sender, the alert channels from the settings, and the state
 * blob in the relay's storage account.
 */
import type { TokenCredential } from '@azure/identity';
import { keyVaultOf, type MonitorSettings } from '../settings';
import { createSecretClient, createVaultCredential } from '../secrets/vaultClient';
import type { Logger } from '../core/log';
import { redactingLogger } from '../core/redact';
import type { Relay } from '../app/runtime';
import type { AlertChannel } from './alerts';
import { emailChannel, webhookChannel } from './channels';
import { MonitorStateStore } from './monitorState';
import { runSecretMonitor, type MonitorReport, type SecretRotationStep } from './secretMonitor';
import { SecretRotator } from './rotation';

export { runSecretMonitor, type MonitorReport, type SecretMonitorDependencies } from './secretMonitor';
export { MonitorStateStore, type MonitorState } from './monitorState';
export { assessSecret } from './assessSecret';
export { monitorSchedule, MONITOR_RUN_ON_STARTUP } from './schedule';
export { ALERT_EVENT, type Alert, type AlertName } from './alerts';

export interface SecretMonitor {
  run(logger: Logger): Promise<MonitorReport>;
}

export function alertChannels(relay: Pick<Relay, 'sender' | 'config'>, settings: MonitorSettings): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (settings.alertEmailTo) channels.push(emailChannel(relay.sender, relay.config.mail.from, settings.alertEmailTo));
  if (settings.alertWebhookUrl) channels.push(webhookChannel(settings.alertWebhookUrl, relay.config.smtp.extraCa));
  return channels;
}

export interface SecretMonitorOptions {
  now?: () => number;
  /** Tests: the identity that writes new Key Vault versions (default: as the relay reads them). */
  vaultCredential?: TokenCredential;
  /** Tests: no waits between proofs of a new secret. */
  proofDelaysMs?: number[];
}

export function createSecretMonitor(relay: Relay, options: SecretMonitorOptions = {}): SecretMonitor {
  const settings = relay.config.monitor;
  const secretName = keyVaultOf(relay.config.auth)?.secretName;
  const rotation = createRotator(relay, settings, options);
  const state = new MonitorStateStore(
    relay.storage.blobs.getContainerClient(settings.stateContainer),
    `secret-monitor/${secretName ?? 'relay'}.json`,
  );
  const channels = alertChannels(relay, settings);
  return {
    run: (invocationLogger) =>
      runSecretMonitor(
        {
          settings,
          secrets: relay.secrets,
          secretName,
          tokens: relay.tokens,
          sender: relay.sender,
          state,
          channels,
          rotation,
          mailbox: { name: relay.config.mail.user, current: (now) => relay.mailboxConditions.current(now) },
          now: options.now,
        },
        redactingLogger(invocationLogger),
      ),
  };
}

/** The rotator, when ROTATION_ENABLED and the secret is a Microsoft Entra secret in Key Vault. */
function createRotator(relay: Relay, settings: MonitorSettings, options: SecretMonitorOptions): SecretRotationStep | undefined {
  const oauth = relay.config.auth;
  const keyVault = keyVaultOf(oauth);
  if (!settings.rotation.enabled || !keyVault || oauth.kind === 'password' || oauth.provider !== 'microsoft' || !relay.secrets) return undefined;
  const extraCa = relay.config.smtp.extraCa;
  const credential = options.vaultCredential ?? createVaultCredential(keyVault.managedIdentityClientId);
  return new SecretRotator({
    settings: settings.rotation,
    oauth,
    secretName: keyVault.secretName,
    secrets: relay.secrets,
    vault: createSecretClient(keyVault, credential, { extraCa }),
    leaseContainer: relay.storage.blobs.getContainerClient(settings.stateContainer),
    extraCa,
    proofDelaysMs: options.proofDelaysMs,
  });
}
