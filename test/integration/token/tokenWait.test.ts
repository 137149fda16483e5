/**
 * A token endpoint that asked to wait is left alone (issue 10, point 5): after a
 * 429 or 503 with Retry-After, no token request is made until the wait has
 * passed, and every message waiting on the token shares that wait. Counted where
 * it matters, on the local Entra-shaped endpoint (so retries inside MSAL or
 * @azure/identity would show), and on the cache with a fake clock.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import type { InjectedReply } from '../../../local/tokenServer';
import { RelayError } from '../../../src/core/errors';
import { TokenCache } from '../../../src/token/tokenCache';
import type { AccessToken, TokenSource } from '../../../src/token/types';
import { RelayHarness } from '../../support/relayHarness';

let stack: LocalStack;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

const WAIT_SECONDS = 120;
const answers: Array<[string, InjectedReply]> = [
  [
    '429 with Retry-After',
    {
      status: 429,
      headers: { 'retry-after': String(WAIT_SECONDS) },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.',
      },
    },
  ],
  ['503 with Retry-After', { status: 503, headers: { 'retry-after': String(WAIT_SECONDS) }, body: 'Service Unavailable' }],
];

for (const [name, answer] of answers) {
  test(`token endpoint ${name}: one request, then none; every waiting message shares the wait`, async () => {
    const id = `wait-${++counter}`;
    const harness = await new RelayHarness(stack, { name: id, runtime: true }).start();
    try {
      stack.tokenServer.failNext(answer);
      const before = stack.tokenServer.tokenRequests;
      for (let i = 0; i < 6; i++) await harness.enqueue(`${id}-${i}`, { id: `${id}-${i}`, to: 'rcpt@example.net', subject: 'wait', text: 'body' });
      // Six messages at once (one batch), then whatever comes back visible within the same second.
      await harness.runner.pollOnce();
      await harness.runner.pollOnce();
      assert.equal(stack.tokenServer.tokenRequests - before, 1, 'the endpoint was asked once, and not again during its wait');
      assert.equal(harness.outcomes.length, 6);
      for (const outcome of harness.outcomes) {
        assert.equal(outcome.status, 'retry-scheduled');
        if (outcome.status !== 'retry-scheduled') continue;
        assert.match(outcome.reason, /^token_endpoint_(throttled|unavailable)$/);
        assert.ok(
          outcome.delaySeconds >= WAIT_SECONDS - 10 && outcome.delaySeconds <= WAIT_SECONDS,
          `waits out the endpoint's wait: ${outcome.delaySeconds} s`,
        );
      }
    } finally {
      await harness.close();
    }
  });
}

describe('TokenCache: the wait an endpoint asked for', () => {
  /** A source that fails as the classifier reports a throttled endpoint, `failures` times, then issues tokens. */
  function source(clock: { now: number }, failures: number, retryAfterSeconds: number): TokenSource & { calls: number } {
    return {
      calls: 0,
      async fetchToken(): Promise<AccessToken> {
        this.calls++;
        if (this.calls <= failures) {
          throw new RelayError('Could not get an access token: the token endpoint is throttling requests.', {
            reason: 'token_endpoint_throttled',
            kind: 'transient',
            providerReply: 'temporarily_unavailable: AADSTS50196',
            retryAfterSeconds,
          });
        }
        return { token: `token-${this.calls}`, expiresOnTimestamp: clock.now + 3600_000 };
      },
    };
  }

  it('no request before the wait is over; callers meanwhile get the failure with the time still to wait', async () => {
    const clock = { now: 1_000_000 };
    const fake = source(clock, 1, 30);
    const cache = new TokenCache(fake, { refreshMarginMs: 600_000, now: () => clock.now });
    await assert.rejects(cache.getToken(), { reason: 'token_endpoint_throttled', retryAfterSeconds: 30 });
    clock.now += 29_000;
    await assert.rejects(cache.getToken(), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.reason, 'token_endpoint_throttled');
      assert.equal(error.retryAfterSeconds, 1);
      assert.equal(error.providerReply, 'temporarily_unavailable: AADSTS50196');
      return true;
    });
    await assert.rejects(cache.refresh(), { reason: 'token_endpoint_throttled' }, 'the monitor waits too');
    assert.equal(fake.calls, 1, 'nothing reached the endpoint during its wait');
    clock.now += 1_000;
    assert.equal((await cache.getToken()).token, 'token-2');
    assert.equal(fake.calls, 2);
  });

  it('a failure without Retry-After is not remembered', async () => {
    const clock = { now: 0 };
    const fake = source(clock, 1, 0);
    const cache = new TokenCache(fake, { refreshMarginMs: 600_000, now: () => clock.now });
    await assert.rejects(cache.getToken());
    assert.equal((await cache.getToken()).token, 'token-2');
  });

  it('a Retry-After beyond an hour holds for an hour only', async () => {
    const clock = { now: 0 };
    const fake = source(clock, 1, 86_400);
    const cache = new TokenCache(fake, { refreshMarginMs: 600_000, now: () => clock.now });
    await assert.rejects(cache.getToken());
    clock.now += 3600_000 - 1;
    await assert.rejects(cache.getToken(), { retryAfterSeconds: 1 });
    clock.now += 1;
    assert.equal((await cache.getToken()).token, 'token-2');
  });
});
