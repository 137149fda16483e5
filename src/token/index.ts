/**
 * Access tokens for XOAUTH2: one TokenCache per process over the provider's
 * client-credentials endpoint (Microsoft Entra through @azure/identity, or a
 * plain RFC 6749 POST for other providers).
 */
import type { OAuthSettings } from '../config';
import type { Logger } from '../log';
import { registerSecret } from '../redact';
import { GenericTokenSource } from './genericTokenSource';
import { MicrosoftTokenSource } from './microsoftTokenSource';
import { TokenCache } from './tokenCache';
import type { TokenSource } from './types';

export type { AccessToken, TokenSource } from './types';
export { TokenCache, type TokenCacheOptions } from './tokenCache';
export { MicrosoftTokenSource, type TokenSourceOptions } from './microsoftTokenSource';
export { GenericTokenSource } from './genericTokenSource';
export { classifyIdentityError, classifyTokenFailure, type TokenEndpointFailure } from './classifyTokenError';

export interface TokenProviderOptions {
  /** PEM of extra CAs to trust besides the default store (TLS_EXTRA_CA_FILE). */
  extraCa?: string;
  logger?: Logger;
}

export function createTokenSource(oauth: OAuthSettings, opts: TokenProviderOptions = {}): TokenSource {
  registerSecret(oauth.clientSecret);
  const sourceOptions = { extraCa: opts.extraCa, logger: opts.logger };
  if (oauth.provider === 'microsoft') return new MicrosoftTokenSource(oauth, sourceOptions);
  return new GenericTokenSource(oauth, sourceOptions);
}

/** The process's token cache for these settings; create it once and share it. */
export function createTokenProvider(oauth: OAuthSettings, opts: TokenProviderOptions = {}): TokenCache {
  return new TokenCache(createTokenSource(oauth, opts), { refreshMarginMs: oauth.refreshMarginMs, logger: opts.logger });
}
