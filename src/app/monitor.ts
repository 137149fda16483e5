/** The secret monitor over the process's parts (components.ts): only what it needs, not the relay. */
import { keyVaultOf, oauthOf } from '../settings';
import { redactingLogger } from '../core/redact';
import { createSecretMonitor, type SecretMonitor, type SecretMonitorOptions, type SecretMonitorParts } from '../monitor';
import type { RelayComponents } from './components';

export type { SecretMonitor, SecretMonitorOptions } from '../monitor';

export function monitorOf(components: RelayComponents, options: SecretMonitorOptions = {}): SecretMonitor {
  const { config } = components;
  const settings = config.monitor;
  const monitor = createSecretMonitor(
    {
      settings,
      secrets: components.secrets,
      secretName: keyVaultOf(config.auth)?.secretName,
      tokens: components.tokens,
      smtp: components.sender,
      alertMail: { sender: components.sender, from: config.mail.from },
      extraCa: config.smtp.extraCa,
      stateContainer: components.storage.blobs.getContainerClient(settings.stateContainer),
      mailbox: { name: config.mail.user, current: (now) => components.mailboxConditions.current(now) },
      rotation: rotationParts(components, settings),
    },
    options,
  );
  return { run: (logger) => monitor.run(redactingLogger(logger)) };
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
