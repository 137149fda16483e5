/**
 * The one access-token cache of the process, shared by every invocation and
 * every SMTP connection: a token is reused until its refresh margin is reached,
 * at most one token request is in flight however many callers ask, a failure is
 * handed to every waiting caller and not remembered, and a token the SMTP server
 * rejected can be dropped without throwing away a newer one.
 */
import { forgetSecret, registerSecret } from '../redact';
import { silentLogger, type Logger } from '../log';
import type { AccessToken, TokenSource } from './types';

export interface TokenCacheOptions {
  /** Replace a token this long before it expires (OAUTH2_REFRESH_MARGIN_SECONDS). */
  refreshMarginMs: number;
  now?: () => number;
  logger?: Logger;
}

interface CachedToken extends AccessToken {
  refreshAfterTimestamp: number;
}

export class TokenCache {
  readonly stats = { fetches: 0, failures: 0, invalidations: 0 };

  private current: CachedToken | undefined;
  /** Tokens registered with redact(): the newest and the one before (open connections may still report on it). */
  private masked: string[] = [];
  private inFlight: Promise<AccessToken> | undefined;
  private readonly now: () => number;
  private readonly logger: Logger;

  constructor(
    private readonly source: TokenSource,
    private readonly options: TokenCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  get refreshMarginMs(): number {
    return this.options.refreshMarginMs;
  }

  /** A token valid for at least the refresh margin (or half its lifetime, if shorter). */
  getToken(): Promise<AccessToken> {
    const cached = this.current;
    if (cached && this.now() < cached.refreshAfterTimestamp) return Promise.resolve({ ...cached });
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight.then((token) => ({ ...token }));
  }

  /**
   * Fetch a new token now, whatever the cache holds: proves that signing in still works
   * (the secret monitor). A success replaces the cached token; a failure leaves it in place.
   */
  refresh(): Promise<AccessToken> {
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight.then((token) => ({ ...token }));
  }

  /**
   * Drop the cached token so the next getToken() fetches a new one. With `token`, only
   * if it is still the cached one: a late rejection of an old token must not throw away
   * the fresh token another caller has already fetched.
   */
  invalidate(token?: string): void {
    if (!this.current) return;
    if (token !== undefined && token !== this.current.token) return;
    this.stats.invalidations++;
    this.logger.info('access token dropped from the cache', { event: 'token.invalidated' });
    this.current = undefined;
  }

  private async fetch(): Promise<AccessToken> {
    this.stats.fetches++;
    const fetchedAt = this.now();
    let token: AccessToken;
    try {
      token = await this.source.fetchToken();
    } catch (error) {
      this.stats.failures++;
      throw error;
    }
    this.mask(token.token);
    const cached: CachedToken = { ...token, refreshAfterTimestamp: this.refreshPoint(token, fetchedAt) };
    this.current = cached;
    this.logger.info('access token fetched', {
      event: 'token.fetched',
      expiresOn: new Date(cached.expiresOnTimestamp).toISOString(),
      refreshAfter: new Date(cached.refreshAfterTimestamp).toISOString(),
    });
    return cached;
  }

  /**
   * Expiry minus the margin. A token that lives no longer than the margin (a provider
   * with short tokens, an assumed lifetime) is used for half its life instead, so such
   * tokens are not fetched anew for every message.
   */
  private refreshPoint(token: AccessToken, fetchedAt: number): number {
    const lifetime = token.expiresOnTimestamp - fetchedAt;
    if (lifetime > this.options.refreshMarginMs) return token.expiresOnTimestamp - this.options.refreshMarginMs;
    this.logger.warn('the access token lives shorter than the refresh margin; it is replaced halfway through its life', {
      event: 'token.short_lifetime',
      lifetimeSeconds: Math.round(lifetime / 1000),
      refreshMarginSeconds: Math.round(this.options.refreshMarginMs / 1000),
    });
    return fetchedAt + Math.max(0, lifetime) / 2;
  }

  private mask(token: string): void {
    registerSecret(token);
    this.masked = [...this.masked.filter((known) => known !== token), token];
    while (this.masked.length > 2) forgetSecret(this.masked.shift());
  }
}
