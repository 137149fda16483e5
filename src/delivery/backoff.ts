/**
 * When to try a message again after a transient failure: exponential backoff
 * with jitter, a cap, a maximum age after which the message is dead-lettered,
 * and the provider's own hint (Retry-After, throttling) honoured.
 */
import type { RelayError } from '../core/errors';

export interface RetryPolicy {
  /** Delay after the first failure, doubled after each further one. */
  firstDelaySeconds: number;
  /** Largest backoff delay (a provider's Retry-After may ask for more). */
  maxDelaySeconds: number;
  /** Age (since first enqueued) after which a failing message is dead-lettered. */
  maxAgeSeconds: number;
}

/** A Retry-After beyond this is treated as this (a bogus hint must not park a message for days). */
export const MAX_HINT_SECONDS = 3600;
/** Throttling without a Retry-After: wait at least this long (Exchange's 432 4.3.2 clears within minutes), unless the cap is lower. */
export const THROTTLED_MIN_DELAY_SECONDS = 60;
/** Clocks of instances differ a little: a copy waiting for a claim comes back this much after its lease end. */
const CLAIM_MARGIN_SECONDS = 1;
/** Azure Storage refuses a visibility timeout above 7 days. */
const MAX_VISIBILITY_SECONDS = 7 * 24 * 3600;

const THROTTLING_REASONS = new Set<RelayError['reason']>(['smtp_throttled', 'graph_throttled', 'token_endpoint_throttled', 'quota_exceeded']);

/**
 * Seconds to wait before attempt `failedAttempts + 1`.
 * Backoff: first × 2^(failedAttempts−1), capped, times a jitter of 0.8–1.2 so
 * messages that failed together do not all come back together.
 */
export function retryDelaySeconds(
  failedAttempts: number,
  policy: RetryPolicy,
  failure: Pick<RelayError, 'reason' | 'retryAfterSeconds'>,
  random: () => number = Math.random,
): number {
  // Another attempt holds the message's claim: come back just after the claim would run out, not after a growing backoff.
  if (failure.reason === 'delivery_in_progress' && failure.retryAfterSeconds !== undefined) {
    return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(failure.retryAfterSeconds) + CLAIM_MARGIN_SECONDS));
  }
  const exponent = Math.max(0, failedAttempts - 1);
  const backoff = Math.min(policy.maxDelaySeconds, policy.firstDelaySeconds * 2 ** Math.min(exponent, 30));
  const jittered = backoff * (0.8 + 0.4 * random());
  let delay = jittered;
  if (THROTTLING_REASONS.has(failure.reason)) delay = Math.max(delay, Math.min(THROTTLED_MIN_DELAY_SECONDS, policy.maxDelaySeconds));
  if (failure.retryAfterSeconds !== undefined && failure.retryAfterSeconds > 0) {
    delay = Math.max(delay, Math.min(failure.retryAfterSeconds, MAX_HINT_SECONDS));
  }
  return Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(delay));
}

/** Whether a message first enqueued at `firstEnqueuedAt` is too old to try again. */
export function isPastMaxAge(firstEnqueuedAt: Date, now: Date, policy: RetryPolicy): boolean {
  return now.getTime() - firstEnqueuedAt.getTime() >= policy.maxAgeSeconds * 1000;
}
