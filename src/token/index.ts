/**
 * Access tokens for XOAUTH2: one TokenCache per process over the provider's
 * client-credentials endpoint (Microsoft Entra through @azure/identity, or a
 * plain RFC 6749 POST for other providers).
 */
import type { OAuthSettings } from '../settings';
import type { Logger } from '../core/log';
import { createSecretProvider, type ClientSecretProvider } from '../secrets';
import { FederatedTokenSource, managedIdentityAssertions, type AssertionProvider } from './federatedTokenSource';
import { SecretProviderTokenSource } from './secretTokenSource';
import { CertificateTokenSource } from './certificateTokenSource';
import { GenericTokenSource } from './genericTokenSource';
import { GoogleTokenSource } from './googleTokenSource';
import { MicrosoftTokenSource } from './microsoftTokenSource';
import { TokenCache } from './tokenCache';
import type { TokenSource } from './types';

export type { AccessToken, TokenSource } from './types';
export { TokenCache, type TokenCacheOptions } from './tokenCache';
export { MicrosoftTokenSource, type TokenSourceOptions } from './microsoftTokenSource';
export { GenericTokenSource } from './genericTokenSource';
export { GoogleTokenSource, JWT_BEARER_GRANT, signAssertion } from './googleTokenSource';
export { CertificateTokenSource, certificateRemedy } from './certificateTokenSource';
export { SecretProviderTokenSource, isSecretRejection } from './secretTokenSource';
export { FederatedTokenSource, managedIdentityAssertions, type AssertionProvider } from './federatedTokenSource';
export { classifyIdentityError, classifyTokenFailure, type TokenEndpointFailure } from './classifyTokenError';

export interface TokenProviderOptions {
  /** PEM of extra CAs to trust besides the default store (TLS_EXTRA_CA_FILE). */
  extraCa?: string;
  logger?: Logger;
  /** Where the client secret comes from; default: the OAUTH2_CLIENT_SECRET setting (a Key Vault secret source comes from src/app). */
  secrets?: ClientSecretProvider;
  /** Federation: where the client assertion comes from; default: the managed identity. */
  assertions?: AssertionProvider;
}

export function createTokenSource(oauth: OAuthSettings, opts: TokenProviderOptions = {}): TokenSource {
  const sourceOptions = { extraCa: opts.extraCa, logger: opts.logger };
  if (oauth.kind === 'federation') {
    const assertions = opts.assertions ?? managedIdentityAssertions({ ...oauth.federation, authorityHost: oauth.authorityHost });
    return new FederatedTokenSource(oauth, assertions, sourceOptions);
  }
  const secrets = opts.secrets ?? createSecretProvider(oauth, opts);
  if (!secrets) throw new Error('no client secret configured (OAUTH2_CLIENT_SECRET or KEYVAULT_URL)');
  if (oauth.kind === 'certificate') {
    const source = secrets.description;
    const sourceFor = (certificatePem: string) => new CertificateTokenSource({ ...oauth, certificatePem, source }, sourceOptions);
    return new SecretProviderTokenSource(secrets, sourceFor, opts.logger);
  }
  if (oauth.provider === 'google') {
    // The "secret" of a Google sender is the service account's JSON key.
    const { subject, scopes, clientId } = oauth;
    const source = secrets.description;
    return new SecretProviderTokenSource(
      secrets,
      (keyJson) => new GoogleTokenSource({ keyJson, source, subject, scopes, clientId }, sourceOptions),
      opts.logger,
    );
  }
  const sourceFor =
    oauth.provider === 'microsoft'
      ? (clientSecret: string) => new MicrosoftTokenSource({ ...oauth, clientSecret }, sourceOptions)
      : (clientSecret: string) => new GenericTokenSource({ ...oauth, clientSecret }, sourceOptions);
  return new SecretProviderTokenSource(secrets, sourceFor, opts.logger);
}

/** The process's token cache for these settings; create it once and share it. */
export function createTokenProvider(oauth: OAuthSettings, opts: TokenProviderOptions = {}): TokenCache {
  const secrets = oauth.kind === 'federation' ? undefined : (opts.secrets ?? createSecretProvider(oauth, opts));
  const cache = new TokenCache(createTokenSource(oauth, { ...opts, secrets }), { refreshMarginMs: oauth.refreshMarginMs, logger: opts.logger });
  // A token made with a secret version that has been replaced is dropped: the next
  // token request proves the new version works, instead of an hour later.
  secrets?.onChange(() => cache.invalidate());
  return cache;
}
