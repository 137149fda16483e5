/**
 * The one access-token cache of the process, shared by every invocation and
 * every SMTP connection: a token is reused until its refresh margin is reached,
 * at most one token request is in flight however many callers ask, a failure is
 * handed to every waiting caller and not remembered, and a token the SMTP server
 * rejected can be dropped without throwing away a newer one.
 *
 * One failure is remembered: a token endpoint that asked to wait (429 or 503 with
 * Retry-After) is not asked again before the wait is over. Every caller meanwhile
 * gets that failure at once, with the time still to wait, so every message waiting
 * on the token shares the one wait.
 */
import { RelayError, isRelayError } from '../core/errors';
import { forgetSecret, registerSecret } from '../core/redact';
import { relayMetrics } from '../telemetry/metrics';
import { silentLogger, type Logger } from '../core/log';
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

/** A Retry-After beyond this is held for this long only (a bogus hint must not stop mail for a day). */
export const MAX_TOKEN_WAIT_MS = 3600_000;

export class TokenCache {
  readonly stats = { fetches: 0, failures: 0, invalidations: 0 };

  private current: CachedToken | undefined;
  /** Tokens registered with redact(): the newest and the one before (open connections may still report on it). */
  private masked: string[] = [];
  private inFlight: Promise<AccessToken> | undefined;
  /** The endpoint asked to wait: no request before `until`; callers get `failure` meanwhile. */
  private wait: { until: number; failure: RelayError } | undefined;
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
    return this.request();
  }

  /**
   * Fetch a new token now, whatever the cache holds: proves that signing in still works
   * (the secret monitor). A success replaces the cached token; a failure leaves it in place.
   * A wait the endpoint asked for holds here too.
   */
  refresh(): Promise<AccessToken> {
    return this.request();
  }

  /** Milliseconds until the token endpoint may be asked again (0 when it did not ask to wait). */
  waitingForMs(): number {
    return this.wait ? Math.max(0, this.wait.until - this.now()) : 0;
  }

  private request(): Promise<AccessToken> {
    const waiting = this.waitingFailure();
    if (waiting) return Promise.reject(waiting);
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight.then((token) => ({ ...token }));
  }

  /** While the endpoint's wait lasts: its failure, with the time still to wait. */
  private waitingFailure(): RelayError | undefined {
    const remaining = this.waitingForMs();
    if (!this.wait || remaining <= 0) {
      this.wait = undefined;
      return undefined;
    }
    const { failure, until } = this.wait;
    return new RelayError(`${failure.message.replace(/\.+$/, '')}; the token endpoint is not asked again before ${new Date(until).toISOString()}.`, {
      reason: failure.reason,
      kind: failure.kind,
      providerReply: failure.providerReply,
      remedy: failure.remedy,
      diagnosis: failure.diagnosis,
      retryAfterSeconds: Math.ceil(remaining / 1000),
      cause: failure,
    });
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
      relayMetrics.tokenRequest('failure', isRelayError(error) ? error.reason : 'internal_error');
      this.holdIfAsked(error);
      throw error;
    }
    relayMetrics.tokenRequest('success');
    this.wait = undefined;
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

  /** A transient failure with Retry-After (429, 503): remember it until the wait is over. */
  private holdIfAsked(error: unknown): void {
    if (!isRelayError(error) || error.kind !== 'transient' || !error.retryAfterSeconds || error.retryAfterSeconds <= 0) return;
    const waitMs = Math.min(error.retryAfterSeconds * 1000, MAX_TOKEN_WAIT_MS);
    this.wait = { until: this.now() + waitMs, failure: error };
    this.logger.warn('the token endpoint asked to wait; no token request is made before the wait is over', {
      event: 'token.wait',
      reason: error.reason,
      waitSeconds: Math.ceil(waitMs / 1000),
      until: new Date(this.wait.until).toISOString(),
      providerReply: error.providerReply,
    });
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
