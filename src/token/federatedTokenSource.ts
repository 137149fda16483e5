/**
 * Secretless tokens (OAUTH2_AUTH_MODE=managed-identity-federation): the app
 * registration trusts the Function App's managed identity through a federated
 * identity credential, so the relay signs in for the app registration with a
 * client assertion, a token the managed identity gets for the audience
 * api://AzureADTokenExchange. No secret exists, so nothing expires or rotates.
 */
import { ClientAssertionCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { FederatedCredentialSettings, MicrosoftOAuthSettings, OAuthSettings } from '../settings';
import { RelayError, isRelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { silentLogger, type Logger } from '../core/log';
import { registerSecret } from '../core/redact';
import { classifyKeyVaultError } from '../secrets/classifyKeyVaultError';
import { classifyIdentityError } from './classifyTokenError';
import type { TokenSourceOptions } from './microsoftTokenSource';
import { azureTlsPolicy } from '../transport/tls';
import type { AccessToken, TokenSource } from './types';

/** Returns a fresh client assertion (a JWT); rejects with a RelayError. */
export type AssertionProvider = () => Promise<string>;

export type FederatedTokenSettings = Pick<OAuthSettings, 'clientId' | 'scopes'> &
  Pick<MicrosoftOAuthSettings, 'tenantId' | 'authorityHost' | 'disableInstanceDiscovery'>;

/** The token-exchange audience of each cloud (Microsoft's documented values). */
export function tokenExchangeScope(authorityHost: string): string {
  const host = new URL(authorityHost).hostname;
  if (host.endsWith('.us')) return 'api://AzureADTokenExchangeUSGov/.default';
  if (host.endsWith('.cn')) return 'api://AzureADTokenExchangeChina/.default';
  return 'api://AzureADTokenExchange/.default';
}

/** Assertions from the app's managed identity (system-assigned, or user-assigned by client ID). */
export function managedIdentityAssertions(
  federation: FederatedCredentialSettings & { authorityHost?: string },
  credential: TokenCredential = federation.managedIdentityClientId
    ? new ManagedIdentityCredential({ clientId: federation.managedIdentityClientId })
    : new ManagedIdentityCredential(),
): AssertionProvider {
  const scope = tokenExchangeScope(federation.authorityHost ?? 'https://login.microsoftonline.com');
  return async () => {
    try {
      const token = await credential.getToken(scope);
      if (!token) throw new Error(`the managed identity returned no token for ${scope}`);
      registerSecret(token.token);
      return token.token;
    } catch (error) {
      // The same identity failures as for Key Vault: not signed in, no identity, endpoint down.
      const failure = classifyKeyVaultError(error, 'the managed identity');
      throw new RelayError(
        `Could not get a client assertion from the managed identity for ${scope}: ${failure.message.replace(/^Could not read the client secret from the managed identity: /, '')}`,
        {
          reason: 'managed_identity_unavailable',
          kind: failure.kind,
          providerReply: failure.providerReply,
          ...(failure.remedy === undefined ? advice('managed_identity_off') : { diagnosis: failure.diagnosis, remedy: failure.remedy }),
          cause: error,
        },
      );
    }
  };
}

export class FederatedTokenSource implements TokenSource {
  private readonly logger: Logger;

  constructor(
    private readonly settings: FederatedTokenSettings,
    private readonly assertions: AssertionProvider,
    private readonly options: TokenSourceOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  async fetchToken(): Promise<AccessToken> {
    let assertionFailure: unknown;
    const getAssertion = async () => {
      try {
        return await this.assertions();
      } catch (error) {
        assertionFailure = error;
        throw error;
      }
    };
    // A new credential per fetch, as in MicrosoftTokenSource: TokenCache decides when a token is renewed.
    const credential = new ClientAssertionCredential(this.settings.tenantId, this.settings.clientId, getAssertion, {
      authorityHost: this.settings.authorityHost,
      disableInstanceDiscovery: this.settings.disableInstanceDiscovery,
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [azureTlsPolicy(this.options.extraCa)],
    });
    try {
      const result = await credential.getToken(this.settings.scopes);
      return { token: result.token, expiresOnTimestamp: result.expiresOnTimestamp };
    } catch (error) {
      if (assertionFailure !== undefined) throw isRelayError(assertionFailure) ? assertionFailure : classifyIdentityError(assertionFailure);
      const classified = classifyIdentityError(error);
      this.logger.warn('the token endpoint refused the managed identity assertion', { event: 'token.federation_failed', ...classified.toJSON() });
      throw federationRemedy(classified);
    }
  }
}

/** AADSTS70021 / 700211 / 700212 / 700213: no federated credential matches the assertion. */
function federationRemedy(error: RelayError): RelayError {
  if (!/AADSTS7002(1|11|12|13)\b|AADSTS70021\b|AADSTS7002/.test(error.providerReply ?? '')) return error;
  return new RelayError(error.message, {
    reason: error.reason,
    kind: 'configuration',
    providerReply: error.providerReply,
    ...advice('federated_credential_missing'),
  });
}
