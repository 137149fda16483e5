/** Backoff: doubling from the first delay to the cap, jitter within ±20%, the provider's hints honoured, the maximum age. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPastMaxAge, MAX_HINT_SECONDS, retryDelaySeconds, THROTTLED_MIN_DELAY_SECONDS } from '../../../src/delivery/backoff';

const policy = { firstDelaySeconds: 30, maxDelaySeconds: 900, maxAgeSeconds: 86400 };
const plain = { reason: 'smtp_transient_failure' as const };
const middle = () => 0.5; // jitter factor exactly 1

test('delays double from the first delay and stop at the cap', () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map((n) => retryDelaySeconds(n, policy, plain, middle));
  assert.deepEqual(delays, [30, 60, 120, 240, 480, 900, 900, 900, 900, 900]);
});

test('jitter stays within 0.8 to 1.2 of the backoff', () => {
  assert.equal(
    retryDelaySeconds(3, policy, plain, () => 0),
    96,
  );
  assert.equal(
    retryDelaySeconds(3, policy, plain, () => 0.999999),
    144,
  );
});

test("a provider's Retry-After wins over a shorter backoff, even above the cap, up to an hour", () => {
  assert.equal(retryDelaySeconds(1, policy, { reason: 'token_endpoint_throttled', retryAfterSeconds: 120 }, middle), 120);
  assert.equal(retryDelaySeconds(1, policy, { reason: 'quota_exceeded', retryAfterSeconds: 3600 }, middle), 3600);
  assert.equal(retryDelaySeconds(1, policy, { reason: 'smtp_throttled', retryAfterSeconds: 10 * 86400 }, middle), MAX_HINT_SECONDS);
  assert.equal(retryDelaySeconds(6, policy, { reason: 'smtp_throttled', retryAfterSeconds: 5 }, middle), 900, 'a shorter hint does not shorten the backoff');
});

test('a throttling reply without a hint waits at least a minute, unless the cap is lower', () => {
  assert.equal(retryDelaySeconds(1, policy, { reason: 'smtp_throttled' }, middle), THROTTLED_MIN_DELAY_SECONDS);
  assert.equal(retryDelaySeconds(1, policy, { reason: 'smtp_transient_failure' }, middle), 30);
  assert.equal(retryDelaySeconds(1, { ...policy, firstDelaySeconds: 0, maxDelaySeconds: 0 }, { reason: 'smtp_throttled' }, middle), 0);
});

test('the maximum age counts from the first enqueue', () => {
  const first = new Date('2026-11-30T00:00:00Z');
  assert.equal(isPastMaxAge(first, new Date('2026-11-30T23:59:59Z'), policy), false);
  assert.equal(isPastMaxAge(first, new Date('2026-12-01T00:00:00Z'), policy), true);
});
