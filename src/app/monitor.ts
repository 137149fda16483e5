/**
 * The secret monitor over the process's parts (components.ts): only what it needs, not the relay.
 * Every sender's secret is watched: the default sender's as always, each other sender's
 * (RELAY_SENDERS) with its own state blob, and its log lines carry its id.
 */
import { DEFAULT_SENDER_ID, keyVaultOf, oauthOf } from '../settings';
import type { Logger } from '../core/log';
import { redactingLogger } from '../core/redact';
import { createSecretMonitor, type MonitorReport, type SecretMonitor, type SecretMonitorOptions, type SecretMonitorParts } from '../monitor';
import type { RelayComponents, SenderComponents } from './components';

export type { SecretMonitor, SecretMonitorOptions } from '../monitor';

export function monitorOf(components: RelayComponents, options: SecretMonitorOptions = {}): SecretMonitor {
  const { config } = components;
  const settings = config.monitor;
  const stateContainer = components.storage.blobs.getContainerClient(settings.stateContainer);
  const monitor = createSecretMonitor(
    {
      settings,
      secrets: components.secrets,
      secretName: keyVaultOf(config.auth)?.secretName,
      tokens: components.tokens,
      smtp: components.sender,
      alertMail: { sender: components.sender, from: config.mail.from },
      extraCa: config.smtp.extraCa,
      stateContainer,
      mailbox: { name: config.mail.user, current: (now) => components.mailboxConditions.current(now) },
      rotation: rotationParts(components, settings),
    },
    options,
  );
  // The other senders' monitors, built (with their parts) on the first tick.
  const others = components.senders.list.filter((sender) => sender.id !== DEFAULT_SENDER_ID).map((sender) => sender.id);
  let senderMonitors: Array<{ id: string; monitor: SecretMonitor }> | undefined;
  const otherMonitors = () =>
    (senderMonitors ??= others.map((id) => ({ id, monitor: senderMonitor(components, components.senders.get(id), stateContainer, options) })));
  return {
    async run(logger) {
      const redacting = redactingLogger(logger);
      const report: MonitorReport = await monitor.run(redacting);
      if (others.length === 0) return report;
      const senders: Record<string, MonitorReport> = {};
      // One after the other, each with its own state: one sender's failure is its own report's, never the others'.
      for (const { id, monitor: one } of otherMonitors()) senders[id] = await one.run(withSender(redacting, id));
      return { ...report, senders };
    },
  };
}

/** A sender's monitor: its secret, token and SMTP login; alerts go out through the default sender. */
function senderMonitor(
  components: RelayComponents,
  one: SenderComponents,
  stateContainer: SecretMonitorParts['stateContainer'],
  options: SecretMonitorOptions,
): SecretMonitor {
  const { settings } = one;
  return createSecretMonitor(
    {
      settings: components.config.monitor,
      secrets: one.secrets,
      secretName: keyVaultOf(settings.auth)?.secretName,
      stateKey: `senders/${one.id}`,
      tokens: one.tokens,
      smtp: one.sender,
      alertMail: { sender: components.sender, from: components.config.mail.from },
      extraCa: settings.smtp.extraCa,
      stateContainer,
      mailbox: { name: settings.mail.user, current: (now) => one.mailboxConditions.current(now) },
      // Rotation stays the default sender's (one rotation lease per app); see the README's "Several senders".
      rotation: undefined,
    },
    options,
  );
}

/** Every line of a sender's monitor carries its id. */
function withSender(logger: Logger, sender: string): Logger {
  return {
    info: (message, props) => logger.info(message, { ...props, sender }),
    warn: (message, props) => logger.warn(message, { ...props, sender }),
    error: (message, props) => logger.error(message, { ...props, sender }),
  };
}

/** Rotation runs when ROTATION_ENABLED and the secret is a Microsoft Entra secret in Key Vault. */
function rotationParts(components: RelayComponents, settings: SecretMonitorParts['settings']): SecretMonitorParts['rotation'] {
  const oauth = oauthOf(components.config.auth);
  const keyVault = keyVaultOf(components.config.auth);
  const { secrets, vault } = components;
  if (!settings.rotation.enabled || !oauth || oauth.kind === 'certificate' || !keyVault || oauth.provider !== 'microsoft' || !secrets || !vault)
    return undefined;
  return { settings: settings.rotation, oauth, secretName: keyVault.secretName, secrets, vault };
}
