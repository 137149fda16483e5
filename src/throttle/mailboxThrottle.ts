/**
 * Keeps one mailbox under its provider's sending limits on this instance: at
 * most `messagesPerWindow` messages in any `windowMs` (Exchange Online: 30 a
 * minute), and a pause after a throttling reply instead of hammering the
 * server with the next message.
 *
 * The window is counted the way the server sees it. The server counts a
 * message when it arrives, somewhere between the moment we start sending and
 * the moment it answers; so a send may start only when fewer than N sends are
 * in flight or finished less than a window ago. Then the N-th next arrival is
 * at least a window after this one's, whatever the connection latency.
 *
 * A send that would wait longer than `maxWaitMs` is not kept inside an
 * invocation: it fails as `smtp_throttled` (transient) with the expected delay
 * as a retry hint, and the queue brings it back later. A pause caused by a
 * named condition (the daily quota) hands sends back with that condition's
 * reason and remedy, so every waiting message says why it waits.
 */
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';

export interface MailboxThrottleOptions {
  /** Messages allowed per window; 0 switches the rate limit off (throttling replies still pause). */
  messagesPerWindow: number;
  windowMs: number;
  /** Longest an invocation waits for its turn before handing the message back to the queue. */
  maxWaitMs: number;
  /** First pause after a throttling reply; doubled on each consecutive one. */
  backoffMs: number;
  /** Longest pause. */
  maxBackoffMs?: number;
  /** Time source and timer (tests drive a fake clock). */
  clock?: Clock;
}

export interface Clock {
  now(): number;
  setTimer(callback: () => void, ms: number): { cancel(): void };
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref(); // a pending slot must not keep a finished process alive
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface ThrottleStats {
  /** Sends that had to wait for their turn. */
  waited: number;
  /** Sends handed back to the queue because the wait was too long. */
  deferred: number;
  /** Throttling replies received from the server. */
  throttledReplies: number;
}

/** Call when the send is over (accepted or failed): its slot then ages out of the window. */
export type ReleaseSlot = () => void;

export class MailboxThrottle {
  readonly stats: ThrottleStats = { waited: 0, deferred: 0, throttledReplies: 0 };
  /** When the last sends finished, oldest first (at most messagesPerWindow kept). */
  private readonly finished: number[] = [];
  private inFlight = 0;
  private readonly waiting: Array<{ start: () => void; defer: (error: RelayError) => void }> = [];
  private timer?: { cancel(): void };
  private pausedUntil = 0;
  /** The failure behind the current pause, when it was a named condition (the daily quota). */
  private pauseCause?: RelayError;
  private consecutiveThrottles = 0;
  private readonly clock: Clock;

  constructor(private readonly options: MailboxThrottleOptions) {
    this.clock = options.clock ?? systemClock;
  }

  private now(): number {
    return this.clock.now();
  }

  /** Waits for this send's turn (in arrival order), or throws smtp_throttled when it is too far away. */
  async acquire(): Promise<ReleaseSlot> {
    const expectedWait = this.expectedWaitMs();
    if (expectedWait > this.options.maxWaitMs) {
      this.stats.deferred++;
      throw this.deferral(expectedWait);
    }
    if (this.waiting.length > 0 || !this.mayStartNow()) {
      this.stats.waited++;
      // schedule() counts this send as in flight when it wakes it.
      await new Promise<void>((resolve, reject) => {
        this.waiting.push({ start: resolve, defer: reject });
        this.schedule();
      });
    } else {
      this.inFlight++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.finished.push(this.now());
      if (this.finished.length > Math.max(1, this.options.messagesPerWindow)) this.finished.shift();
      this.schedule();
    };
  }

  /** The server accepted a message: throttling is over. */
  recordSuccess(): void {
    this.consecutiveThrottles = 0;
    this.pauseCause = undefined;
  }

  /**
   * The server answered with a throttling reply: pause the mailbox (longer each time, at least the server's hint).
   * With `cause` (a named condition such as the daily quota), sends handed back meanwhile carry its reason and
   * remedy, and sends already waiting are handed back at once when the pause outlasts the longest wait.
   */
  recordThrottled(retryAfterSeconds?: number, cause?: RelayError): void {
    this.stats.throttledReplies++;
    this.consecutiveThrottles++;
    const backoff = Math.min(this.options.backoffMs * 2 ** (this.consecutiveThrottles - 1), this.options.maxBackoffMs ?? 15 * 60_000);
    const until = this.now() + Math.max(backoff, (retryAfterSeconds ?? 0) * 1000);
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseCause = cause;
    }
    const pause = this.pausedForMs();
    if (pause > this.options.maxWaitMs) {
      for (const waiter of this.waiting.splice(0)) {
        this.stats.deferred++;
        waiter.defer(this.deferral(pause));
      }
      this.schedule();
    }
  }

  /** The error that hands a send back to the queue for `waitMs`. */
  private deferral(waitMs: number): RelayError {
    const seconds = Math.ceil(waitMs / 1000);
    const cause = this.pausedForMs() > 0 ? this.pauseCause : undefined;
    if (cause) {
      return new RelayError(`sending paused for this mailbox for about ${seconds} s: ${cause.message.replace(/^SMTP: /, '').replace(/\.+$/, '')}.`, {
        reason: cause.reason,
        kind: cause.kind,
        providerReply: cause.providerReply,
        remedy: cause.remedy,
        diagnosis: cause.diagnosis,
        retryAfterSeconds: seconds,
      });
    }
    return new RelayError(`sending paused for this mailbox for about ${seconds} s to stay under the provider's limits`, {
      reason: 'smtp_throttled',
      kind: 'transient',
      retryAfterSeconds: seconds,
      ...advice('mailbox_paused'),
    });
  }

  /** Milliseconds until sending resumes after a throttling reply (0 when not paused). */
  pausedForMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /** Sends in flight or finished within the last window. */
  private busySlots(now: number): number {
    return this.inFlight + this.finished.filter((time) => time > now - this.options.windowMs).length;
  }

  private mayStartNow(): boolean {
    const now = this.now();
    if (now < this.pausedUntil) return false;
    const limit = this.options.messagesPerWindow;
    return limit <= 0 || this.busySlots(now) < limit;
  }

  /** Starts as many waiters as may start now, and sets a timer for when the next one may. */
  private schedule(): void {
    while (this.waiting.length > 0 && this.mayStartNow()) {
      this.inFlight++;
      this.waiting.shift()!.start();
    }
    this.timer?.cancel();
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    const now = this.now();
    // Blocked by a pause, or by the window: the oldest send finished within it ages out first.
    // (If only sends in flight block, their release calls schedule() again.)
    const oldestInWindow = this.finished.find((time) => time > now - this.options.windowMs);
    const windowOpens = oldestInWindow === undefined ? now : oldestInWindow + this.options.windowMs;
    const at = Math.max(this.pausedUntil, windowOpens);
    if (at > now) this.timer = this.clock.setTimer(() => this.schedule(), at - now);
  }

  /** A rough forecast: how long until this caller would start, from the queue ahead of it. */
  private expectedWaitMs(): number {
    const now = this.now();
    const pause = Math.max(0, this.pausedUntil - now);
    const limit = this.options.messagesPerWindow;
    if (limit <= 0) return pause;
    const ahead = this.waiting.length + this.busySlots(now);
    if (ahead < limit) return pause;
    const windowsAhead = Math.floor((ahead - limit) / limit);
    const oldest = this.finished[0];
    const firstAgeOut = oldest !== undefined ? Math.max(0, oldest + this.options.windowMs - now) : this.options.windowMs;
    return Math.max(pause, firstAgeOut + windowsAhead * this.options.windowMs);
  }
}
