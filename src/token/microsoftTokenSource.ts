/**
 * Client-credentials tokens from the Microsoft identity platform (Entra ID)
 * through @azure/identity's ClientSecretCredential, unchanged, so sovereign
 * clouds, discovery and Entra's quirks are handled the way Microsoft ships them.
 */
import { ClientSecretCredential, type ClientSecretCredentialOptions } from '@azure/identity';
import type { MicrosoftOAuthSettings, OAuthSettings } from '../settings';
import type { Logger } from '../core/log';
import { silentLogger } from '../core/log';
import { classifyIdentityError, parseRetryAfter, parseTokenErrorBody, type TokenEndpointFailure } from './classifyTokenError';
import { azureTlsPolicy } from '../transport/tls';
import { ASSUMED_LIFETIME_MS, DEFAULT_TOKEN_REQUEST_TIMEOUT_MS, type AccessToken, type TokenSource } from './types';

/** The HTTP pipeline policy type, named through @azure/identity's own options (core-rest-pipeline is not our dependency). */
type PipelinePolicy = NonNullable<ClientSecretCredentialOptions['additionalPolicies']>[number]['policy'];

/** The client secret's value, wherever it was read (the setting or Key Vault). */
export type MicrosoftTokenSettings = Pick<OAuthSettings, 'clientId' | 'scopes'> & { clientSecret: string } & Pick<
    MicrosoftOAuthSettings,
    'tenantId' | 'authorityHost' | 'disableInstanceDiscovery'
  >;

export interface TokenSourceOptions {
  /** PEM of extra CAs to trust besides the default store (TLS_EXTRA_CA_FILE). */
  extraCa?: string;
  logger?: Logger;
  /** Per HTTP request; default 15 s. */
  requestTimeoutMs?: number;
  now?: () => number;
}

export class MicrosoftTokenSource implements TokenSource {
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(
    private readonly settings: MicrosoftTokenSettings,
    private readonly options: TokenSourceOptions = {},
  ) {
    if (!settings.clientSecret) throw new Error('MicrosoftTokenSource needs a client secret');
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  async fetchToken(): Promise<AccessToken> {
    const observed: TokenEndpointFailure = {};
    // A new credential for every fetch, on purpose: each credential keeps its own MSAL
    // token cache and MSAL hands back the cached token until 5 minutes before it expires.
    // TokenCache refreshes earlier (its margin is at least 10 minutes) and drops a token
    // Exchange has rejected (535); a reused credential would silently return that same
    // old token. MSAL's throttling memory (after a 429) lives in that cache as well, and
    // TokenCache already ensures one request at a time.
    const credential = new ClientSecretCredential(this.settings.tenantId, this.settings.clientId, this.settings.clientSecret, {
      authorityHost: this.settings.authorityHost,
      disableInstanceDiscovery: this.settings.disableInstanceDiscovery,
      // No retries inside the credential: its throttling retry would sleep for the whole
      // Retry-After inside a queue invocation. The queue retries the message instead.
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [
        azureTlsPolicy(this.options.extraCa),
        { policy: observeTokenEndpoint(observed, this.options.requestTimeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS), position: 'perRetry' },
      ],
    });

    let result;
    try {
      result = await credential.getToken(this.settings.scopes);
    } catch (error) {
      const classified = classifyIdentityError(error, observed);
      if (error instanceof Error && error.name === 'CredentialUnavailableError') {
        // MSAL reduces TLS, connection and discovery failures to "endpoints_resolution_error";
        // the underlying cause is only known from what our policy saw.
        this.logger.warn('token endpoint discovery failed', {
          event: 'token.endpoint_unavailable',
          authorityHost: this.settings.authorityHost,
          error: error.message,
          cause: describeObserved(observed),
        });
      }
      throw classified;
    }

    const now = this.now();
    if (!(result.expiresOnTimestamp - now >= MIN_PLAUSIBLE_LIFETIME_MS)) {
      // A response without expires_in comes back from @azure/identity as a token expiring "now"
      // (MSAL works in whole seconds, so a little before or after); Entra never issues such tokens.
      this.logger.warn('the token response gave no usable lifetime; assuming a short one', {
        event: 'token.lifetime_missing',
        assumedLifetimeSeconds: ASSUMED_LIFETIME_MS / 1000,
      });
      return { token: result.token, expiresOnTimestamp: now + ASSUMED_LIFETIME_MS };
    }
    return { token: result.token, expiresOnTimestamp: result.expiresOnTimestamp };
  }
}

/** A freshly issued token that lives shorter than this has no real lifetime information. */
const MIN_PLAUSIBLE_LIFETIME_MS = 60_000;

/**
 * Records what the endpoint answered (status, OAuth error body, Retry-After) or the
 * socket error, into `observed`, for classification; and gives each request a timeout.
 * Only answers are read, never the request (it carries the client secret).
 */
export function observeTokenEndpoint(observed: TokenEndpointFailure, timeoutMs: number): PipelinePolicy {
  return {
    name: 'relayObserveTokenEndpoint',
    async sendRequest(request, next) {
      if (!request.timeout) request.timeout = timeoutMs;
      for (const key of Object.keys(observed)) delete (observed as Record<string, unknown>)[key];
      try {
        const response = await next(request);
        const text = response.bodyAsText ?? '';
        if (response.status >= 400) {
          Object.assign(observed, parseTokenErrorBody(response.status, text, response.headers.get('retry-after')));
        } else {
          observed.status = response.status;
          observed.retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
          if (!isJsonObject(text)) observed.malformed = true;
        }
        return response;
      } catch (error) {
        // The pipeline reports its own request timeout as a bare AbortError.
        const timedOut = error instanceof Error && error.name === 'AbortError' && !request.abortSignal?.aborted;
        observed.networkError = timedOut
          ? Object.assign(new Error(`no answer from the token endpoint within ${request.timeout} ms`), { code: 'ETIMEDOUT' })
          : error;
        throw error;
      }
    },
  };
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return !!value && typeof value === 'object';
  } catch {
    return false;
  }
}

function describeObserved(observed: TokenEndpointFailure): string | undefined {
  if (observed.networkError instanceof Error) return observed.networkError.message;
  if (observed.status) return `HTTP ${observed.status}${observed.error ? ` ${observed.error}` : ''}`;
  return undefined;
}
