/** An OAuth2 access token as the relay handles it. */
export interface AccessToken {
  token: string;
  /** When the provider says the token stops being valid (ms since the epoch). */
  expiresOnTimestamp: number;
  /** Set by TokenCache: when the cache will replace this token (expiry minus the refresh margin). */
  refreshAfterTimestamp?: number;
}

/** Fetches a new token from the provider on every call; caching is TokenCache's job. */
export interface TokenSource {
  fetchToken(): Promise<AccessToken>;
}

/**
 * Lifetime assumed when a token response carries no usable expires_in. Short on
 * purpose: an unknown lifetime must not keep a token around long, and TokenCache
 * still refreshes such a token before it runs out.
 */
export const ASSUMED_LIFETIME_MS = 5 * 60 * 1000;

/** Token endpoint requests give up after this long (a stalled endpoint must not hold a queue invocation). */
export const DEFAULT_TOKEN_REQUEST_TIMEOUT_MS = 15_000;
