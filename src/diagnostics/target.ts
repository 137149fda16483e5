/**
 * Builds what the checks run against from relay components: the health
 * endpoint passes the process's own (shared token cache and SMTP pool), the
 * doctor passes ones it made from the settings it was given (src/app/diagnostics.ts).
 */
import type { RelayConfig } from '../settings';
import type { MailSender } from '../smtp';
import type { ClientSecretProvider } from '../secrets';
import type { AccessToken } from '../token';
import type { DiagnosticTarget, GraphDiagnosticTarget, SecretStatus } from './checks';

export interface RelayParts {
  config: RelayConfig;
  sender: Pick<MailSender, 'send' | 'verify'>;
  /** The token cache the sender uses; absent when OAuth2 is off. */
  tokens?: { getToken(): Promise<AccessToken> };
  /** Where the client secret comes from (the setting or Key Vault); absent when none is used. */
  secrets?: ClientSecretProvider;
  /** The Graph side of a graph or smtp-then-graph sender; absent for an SMTP sender. */
  graph?: GraphDiagnosticTarget;
}

export interface TargetOptions {
  /** A token straight from the endpoint, leaving the shared cache alone (a token source of its own on the relay's secret). */
  freshToken: (parts: RelayParts) => Promise<AccessToken>;
  /** Where the client secret comes from and when it expires (Key Vault); default: what the secret source says. */
  secretStatus?: (config: RelayConfig) => Promise<SecretStatus | undefined>;
}

/** `load` may throw ConfigError: the configuration check reports it. */
export function relayTarget(load: () => RelayParts, options: TargetOptions): DiagnosticTarget {
  const target: DiagnosticTarget = {
    config: () => load().config,
    token: async (fresh) => {
      const parts = load();
      // A fresh token comes from its own source: emptying the shared cache would stop delivery if the endpoint is failing.
      if (fresh || !parts.tokens) return options.freshToken(parts);
      return parts.tokens.getToken();
    },
    verifySmtp: () => load().sender.verify(),
    send: (mail) => load().sender.send(mail),
    graph: () => load().graph,
  };
  target.secretStatus = async () => {
    const parts = load();
    if (options.secretStatus) return options.secretStatus(parts.config);
    if (!parts.secrets) return undefined;
    const { properties } = await parts.secrets.reload();
    const status: SecretStatus = { description: parts.secrets.description, expiresOn: properties?.expiresOn, enabled: properties?.enabled };
    if (parts.secrets.credential) status.credential = parts.secrets.credential;
    return status;
  };
  return target;
}
