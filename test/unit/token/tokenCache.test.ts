import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../../src/token/tokenCache';
import type { AccessToken, TokenSource } from '../../../src/token/types';
import { redact } from '../../../src/core/redact';

const MINUTE = 60_000;
const MARGIN = 10 * MINUTE;

/** A token source that hands out numbered tokens on demand, released by the test. */
class FakeSource implements TokenSource {
  calls = 0;
  lifetimeMs = 60 * MINUTE;
  private pending: Array<{ resolve: (token: AccessToken) => void; reject: (error: Error) => void }> = [];
  constructor(private readonly clock: { now: number }) {}

  fetchToken(): Promise<AccessToken> {
    this.calls++;
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  get waiting(): number {
    return this.pending.length;
  }

  succeed(): AccessToken {
    const token = { token: `opaque-token-${String(this.calls).padStart(4, '0')}`, expiresOnTimestamp: this.clock.now + this.lifetimeMs };
    this.pending.shift()!.resolve(token);
    return token;
  }

  fail(error: Error): void {
    this.pending.shift()!.reject(error);
  }
}

/** A source that answers at once. */
function immediateSource(clock: { now: number }, lifetimeMs = 60 * MINUTE): TokenSource & { calls: number } {
  return {
    calls: 0,
    async fetchToken() {
      this.calls++;
      return { token: `instant-token-${String(this.calls).padStart(4, '0')}`, expiresOnTimestamp: clock.now + lifetimeMs };
    },
  };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TokenCache', () => {
  it('reuses the token until the refresh margin before expiry, then fetches a new one', async () => {
    const clock = { now: 1_000_000 };
    const source = immediateSource(clock);
    const cache = new TokenCache(source, { refreshMarginMs: MARGIN, now: () => clock.now });

    const first = await cache.getToken();
    assert.equal(first.refreshAfterTimestamp, first.expiresOnTimestamp - MARGIN);
    clock.now += 49 * MINUTE;
    assert.equal((await cache.getToken()).token, first.token);
    clock.now += MINUTE - 1; // 1 ms before expiry - margin
    assert.equal((await cache.getToken()).token, first.token);
    assert.equal(cache.stats.fetches, 1);

    clock.now += 1; // exactly expiry - margin
    const second = await cache.getToken();
    assert.notEqual(second.token, first.token);
    assert.equal(cache.stats.fetches, 2);
  });

  it('makes one request however many callers ask at once (single flight)', async () => {
    const clock = { now: 0 };
    const source = new FakeSource(clock);
    const cache = new TokenCache(source, { refreshMarginMs: MARGIN, now: () => clock.now });

    const callers = Array.from({ length: 50 }, () => cache.getToken());
    await flush();
    assert.equal(source.calls, 1);
    const issued = source.succeed();
    const tokens = await Promise.all(callers);
    assert.ok(tokens.every((token) => token.token === issued.token));
    assert.equal(cache.stats.fetches, 1);
  });

  it('rejects every waiting caller when the fetch fails, and does not remember the failure', async () => {
    const clock = { now: 0 };
    const source = new FakeSource(clock);
    const cache = new TokenCache(source, { refreshMarginMs: MARGIN, now: () => clock.now });

    const callers = Array.from({ length: 5 }, () => cache.getToken());
    await flush();
    const failure = new Error('endpoint down');
    source.fail(failure);
    const results = await Promise.allSettled(callers);
    assert.ok(results.every((result) => result.status === 'rejected' && result.reason === failure));
    assert.equal(cache.stats.failures, 1);

    const retry = cache.getToken();
    await flush();
    assert.equal(source.calls, 2, 'the next caller starts a new request');
    const issued = source.succeed();
    assert.equal((await retry).token, issued.token);
  });

  it('invalidate(token) drops the cached token only while it is still that token', async () => {
    const clock = { now: 0 };
    const source = immediateSource(clock);
    const cache = new TokenCache(source, { refreshMarginMs: MARGIN, now: () => clock.now });

    const old = await cache.getToken();
    cache.invalidate(old.token);
    const fresh = await cache.getToken();
    assert.notEqual(fresh.token, old.token);
    assert.equal(cache.stats.fetches, 2);

    // A late rejection of the old token must not throw the fresh one away.
    cache.invalidate(old.token);
    assert.equal((await cache.getToken()).token, fresh.token);
    assert.equal(cache.stats.fetches, 2);

    cache.invalidate();
    assert.notEqual((await cache.getToken()).token, fresh.token);
    assert.equal(cache.stats.fetches, 3);
  });

  it('an invalidation during a fetch does not affect the token that fetch brings', async () => {
    const clock = { now: 0 };
    const source = new FakeSource(clock);
    const cache = new TokenCache(source, { refreshMarginMs: MARGIN, now: () => clock.now });
    const pending = cache.getToken();
    await flush();
    cache.invalidate('some-older-token');
    const issued = source.succeed();
    assert.equal((await pending).token, issued.token);
    assert.equal((await cache.getToken()).token, issued.token);
    assert.equal(source.calls, 1);
  });

  it('uses a token that lives shorter than the margin for half its life instead of fetching for every caller', async () => {
    const clock = { now: 0 };
    const source = immediateSource(clock, 5 * MINUTE);
    const warnings: string[] = [];
    const cache = new TokenCache(source, {
      refreshMarginMs: MARGIN,
      now: () => clock.now,
      logger: { info() {}, warn: (message) => warnings.push(message), error() {} },
    });
    const first = await cache.getToken();
    for (let i = 0; i < 10; i++) assert.equal((await cache.getToken()).token, first.token);
    assert.equal(cache.stats.fetches, 1);
    assert.equal(warnings.length, 1);
    clock.now += 2.5 * MINUTE;
    assert.notEqual((await cache.getToken()).token, first.token);
    assert.equal(cache.stats.fetches, 2);
  });

  it('registers each token for redaction and forgets tokens two replacements old', async () => {
    const clock = { now: 0 };
    const source = immediateSource(clock);
    const cache = new TokenCache(source, { refreshMarginMs: MARGIN, now: () => clock.now });
    const first = await cache.getToken();
    assert.equal(redact(`Bearer-less text ${first.token}`), 'Bearer-less text [redacted]');
    cache.invalidate();
    const second = await cache.getToken();
    assert.equal(redact(first.token), '[redacted]', 'the previous token stays masked');
    cache.invalidate();
    const third = await cache.getToken();
    assert.equal(redact(third.token), '[redacted]');
    assert.equal(redact(second.token), '[redacted]');
    assert.equal(redact(first.token), first.token, 'older tokens are forgotten');
  });

  it('hands each caller its own copy (callers cannot change the cached token)', async () => {
    const clock = { now: 0 };
    const cache = new TokenCache(immediateSource(clock), { refreshMarginMs: MARGIN, now: () => clock.now });
    const copy = await cache.getToken();
    copy.token = 'tampered';
    assert.notEqual((await cache.getToken()).token, 'tampered');
  });
});
