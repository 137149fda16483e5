/**
 * Keeps one mailbox under its provider's sending limits on this instance:
 * at most `messagesPerWindow` sends started in any `windowMs` (Exchange Online:
 * 30 a minute), and a pause after a throttling reply instead of hammering the
 * server with the next message.
 *
 * Each send reserves the earliest free slot at the moment it asks, so callers
 * are served in order and no timer loop is needed. A send whose slot is further
 * away than `maxWaitMs` is not kept waiting inside an invocation: it fails as
 * `smtp_throttled` (transient) with the delay as a retry hint, and the queue
 * brings it back later.
 */
import { RelayError } from '../errors';

export interface MailboxThrottleOptions {
  /** Sends allowed per window; 0 switches the rate limit off (throttling replies still pause). */
  messagesPerWindow: number;
  windowMs: number;
  /** Longest an invocation waits for a slot before handing the message back to the queue. */
  maxWaitMs: number;
  /** First pause after a throttling reply; doubled on each consecutive one. */
  backoffMs: number;
  /** Longest pause. */
  maxBackoffMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ThrottleStats {
  /** Sends that had to wait for a slot. */
  waited: number;
  /** Sends handed back to the queue because the wait was too long. */
  deferred: number;
  /** Throttling replies received from the server. */
  throttledReplies: number;
}

export class MailboxThrottle {
  readonly stats: ThrottleStats = { waited: 0, deferred: 0, throttledReplies: 0 };
  /** Start times reserved for the last `messagesPerWindow` sends, in order. */
  private readonly reservations: number[] = [];
  private pausedUntil = 0;
  private consecutiveThrottles = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: MailboxThrottleOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Waits for this send's slot, or throws smtp_throttled when it is too far away. */
  async acquire(): Promise<void> {
    const now = this.now();
    const slot = this.nextSlot(now);
    const wait = slot - now;
    if (wait > this.options.maxWaitMs) {
      this.stats.deferred++;
      throw new RelayError(`sending paused for this mailbox for ${Math.ceil(wait / 1000)} s to stay under the provider's limits`, {
        reason: 'smtp_throttled',
        kind: 'transient',
        retryAfterSeconds: Math.ceil(wait / 1000),
        remedy:
          'Nothing to fix if this is rare. If it is constant, the app sends more than the mailbox may (Exchange Online: 30 messages a ' +
          'minute, 3 connections): lower host.json batchSize or the instance cap, or spread the load over several mailboxes.',
      });
    }
    if (this.options.messagesPerWindow > 0) {
      this.reservations.push(slot);
      if (this.reservations.length > this.options.messagesPerWindow) this.reservations.shift();
    }
    if (wait > 0) {
      this.stats.waited++;
      await this.sleep(wait);
    }
  }

  /** The server accepted a message: throttling is over. */
  recordSuccess(): void {
    this.consecutiveThrottles = 0;
  }

  /** The server answered with a throttling reply: pause the mailbox (longer each time, at least the server's hint). */
  recordThrottled(retryAfterSeconds?: number): void {
    this.stats.throttledReplies++;
    this.consecutiveThrottles++;
    const backoff = Math.min(this.options.backoffMs * 2 ** (this.consecutiveThrottles - 1), this.options.maxBackoffMs ?? 15 * 60_000);
    const pause = Math.max(backoff, (retryAfterSeconds ?? 0) * 1000);
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + pause);
  }

  /** Milliseconds until sending resumes after a throttling reply (0 when not paused). */
  pausedForMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  private nextSlot(now: number): number {
    let slot = Math.max(now, this.pausedUntil);
    const limit = this.options.messagesPerWindow;
    if (limit > 0 && this.reservations.length >= limit) {
      // The send `limit` places back must be a full window behind this one.
      slot = Math.max(slot, this.reservations[this.reservations.length - limit] + this.options.windowMs);
    }
    return slot;
  }
}
