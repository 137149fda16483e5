/**
 * The whole local stack (Azurite, token endpoint, SMTP server) plus the
 * KeyVaultDouble holding the relay's client secret, and relays configured the
 * way they run in Azure: KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME, no secret in
 * the settings. A "vault reader" client of the local token server stands in
 * for the managed identity.
 */
import { ClientSecretCredential } from '@azure/identity';
import { startLocalStack, LOCAL_TENANT_ID, type LocalStack } from '../../local/stack';
import { loadConfig } from '../../src/settings';
import { relayOf, type Relay } from '../../src/app/relay';
import { createRelayComponents, type RelayComponents } from '../../src/app/components';
import type { Logger } from '../../src/core/log';
import { KeyVaultDouble, VAULT_RESOURCE } from '../../local/doubles/keyVaultDouble';

export const SECRET_NAME = 'relay-client-secret';
const VAULT_READER = 'c0ffee00-0000-4000-8000-00000000beef';
const VAULT_READER_SECRET = 'vault~reader.secret_9876543210';

/** A relay as the process builds it, with its parts (the secret source, the token cache…) for the tests to look at. */
export type VaultRelay = Relay & { parts: RelayComponents };

export interface RelayVaultStack {
  stack: LocalStack;
  vault: KeyVaultDouble;
  credential: ClientSecretCredential;
  /** App settings as in Azure: the secret only in Key Vault. */
  settings(overrides?: Record<string, string | undefined>): Record<string, string | undefined>;
  relay(overrides?: Record<string, string | undefined>, logger?: Logger): VaultRelay;
  close(): Promise<void>;
}

let counter = 0;

export async function startRelayVaultStack(): Promise<RelayVaultStack> {
  const stack = await startLocalStack({ inMemory: true });
  stack.tokenServer.setClientSecret(VAULT_READER, VAULT_READER_SECRET);
  const vault = await KeyVaultDouble.start({
    tls: stack.certs,
    authority: `${stack.tokenServer.url}/${LOCAL_TENANT_ID}`,
    verifyToken: async (token) => (await stack.tokenServer.verifyTokenForResource(token, VAULT_RESOURCE)).ok,
  });
  vault.setSecret(SECRET_NAME, { value: stack.clientSecret, expiresOn: new Date(Date.now() + 180 * 86_400_000) });
  const credential = new ClientSecretCredential(LOCAL_TENANT_ID, VAULT_READER, VAULT_READER_SECRET, {
    authorityHost: stack.tokenServer.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: [stack.certs.caPem] },
  });
  const relays: VaultRelay[] = [];
  const settings = (overrides: Record<string, string | undefined> = {}) => {
    const name = `kv-${process.pid}-${++counter}`;
    const { OAUTH2_CLIENT_SECRET: _notInAzure, ...rest } = stack.settings;
    return {
      ...rest,
      KEYVAULT_URL: vault.url,
      OAUTH2_CLIENT_SECRET_NAME: SECRET_NAME,
      RELAY_QUEUE_NAME: name,
      RELAY_DEADLETTER_QUEUE_NAME: `${name}-dl`,
      RELAY_DEADLETTER_CONTAINER: `${name}-dl`,
      MONITOR_STATE_CONTAINER: `${name}-monitor`,
      ...overrides,
    };
  };
  return {
    stack,
    vault,
    credential,
    settings,
    relay(overrides = {}, logger) {
      const parts = createRelayComponents(loadConfig(settings(overrides)), logger ?? silent, { vaultCredential: credential });
      const relay = Object.assign(relayOf(parts), { parts });
      relays.push(relay);
      return relay;
    },
    async close() {
      for (const relay of relays) await relay.close();
      await vault.close();
      await stack.close();
    },
  };
}

const silent: Logger = { info() {}, warn() {}, error() {} };

export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, props?: Record<string, unknown>) => lines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

let messageCounter = 0;

export function queueMessage(subject = 'hello'): string {
  return JSON.stringify({ id: `kv-msg-${process.pid}-${++messageCounter}`, to: 'someone@example.net', subject, text: 'body' });
}
