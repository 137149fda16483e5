/**
 * The monitor wired to the relay of this process: its secret source, token
 * cache and mail sender, the alert channels from the settings, and the state
 * blob in the relay's storage account.
 */
import type { MonitorSettings } from '../config';
import type { Logger } from '../log';
import type { Relay } from '../runtime';
import type { AlertChannel } from './alerts';
import { emailChannel, webhookChannel } from './channels';
import { MonitorStateStore } from './monitorState';
import { runSecretMonitor, type MonitorReport, type SecretRotationStep } from './secretMonitor';

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

export function createSecretMonitor(relay: Relay, options: { rotation?: SecretRotationStep; now?: () => number } = {}): SecretMonitor {
  const settings = relay.config.monitor!;
  const secretName = relay.config.oauth?.keyVault?.secretName;
  const state = new MonitorStateStore(
    relay.storage.blobs.getContainerClient(settings.stateContainer),
    `secret-monitor/${secretName ?? 'relay'}.json`,
  );
  const channels = alertChannels(relay, settings);
  return {
    run: (logger) =>
      runSecretMonitor(
        {
          settings,
          secrets: relay.secrets,
          secretName,
          tokens: relay.tokens,
          sender: relay.sender,
          state,
          channels,
          rotation: options.rotation,
          now: options.now,
        },
        logger,
      ),
  };
}
