/**
 * The mailbox's rate and daily recipient budget, shared by every instance of the
 * app: one small JSON blob per mailbox in the coordination container, holding the
 * start times of the last sends (as many as the rate allows per window) and the
 * recipients counted per bucket (a 24th of the day). Each send reads it, checks
 * both limits and writes it back with If-Match on the ETag it read; when another
 * instance wrote first (412), it reads again after a short random pause.
 *
 * A send is counted when it is reserved, before its connection reaches MAIL FROM;
 * the server counts a little later. A send therefore waits for the window plus a
 * margin, and a bucket ages out a margin after its end, so the two clocks never
 * disagree in the server's disfavour. Recipients of a send that then fails stay
 * counted: the budget errs on the side of the block.
 *
 * Any storage failure other than a lost race refuses the send (storage_unavailable,
 * transient): a message never goes out unless its reservation was written.
 *
 * The state this process last wrote is kept with its ETag: the next send that fits it is
 * written straight away with If-Match on that ETag (one request, not a read and a write);
 * if another instance wrote meanwhile, the write fails with 412 and the blob is read as
 * before. A send the kept state would make wait or refuse reads the blob first, so every
 * such decision is taken on the stored state, as without the cache.
 */
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { readVersion, uploadIf } from '../transport/conditionalBlob';
import { createOnce } from '../transport/storage';

export interface SendingWindowOptions {
  /** Messages the mailbox may start per window; 0: no rate limit. */
  messagesPerWindow: number;
  windowMs: number;
  /** Recipients (to + cc + bcc) per rolling day; 0: not counted. */
  recipientsPerDay: number;
  dayMs: number;
}

/** What coordinating has cost this process: every storage request it made, by kind. */
export interface CoordinationStats {
  /** Storage requests of any kind (reads, conditional writes, lease operations, creations). */
  requests: number;
  /** Of those, the connection slots' (lease acquire, renew, release, slot creation). */
  slotRequests: number;
  /** Slot leases acquired: connections opened under the app-wide limit. */
  leases: number;
  /** Conditional writes that lost the race to another instance (412) and were tried again. */
  conflicts: number;
  /** Sends that waited for the shared window or a connection slot. */
  waited: number;
  /** Sends handed back to the queue: the window, the slots or the daily budget were too far off. */
  deferred: number;
}

export function newCoordinationStats(): CoordinationStats {
  return { requests: 0, slotRequests: 0, leases: 0, conflicts: 0, waited: 0, deferred: 0 };
}

/** The blob's body: version 1. */
interface WindowState {
  v: 1;
  /** Start times (ms) of the last sends, oldest first, at most messagesPerWindow of them. */
  sends: number[];
  /** [bucket start (ms), recipients], oldest first. */
  buckets: Array<[number, number]>;
}

const BUCKETS_PER_DAY = 24;
/** Lost races in a row before the send is handed back rather than tried again. */
const MAX_CONFLICTS = 25;

/**
 * The time allowed between a reservation and the server's count of it (a new connection's TCP, TLS and AUTH;
 * the token is fetched before the reservation): 2 s, or a quarter of a scaled-down window.
 */
export function countingMarginMs(windowMs: number): number {
  return Math.min(2000, Math.floor(windowMs / 4));
}

export interface Sleeper {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

const systemSleeper: Sleeper = {
  now: () => Date.now(),
  // Not unref'd: a send is waiting on it, which must keep a process without other work alive.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

export class SendingWindow {
  private readonly blob: BlockBlobClient;
  private readonly ensureContainer: () => Promise<void>;
  private readonly bucketMs: number;
  /** What this process last wrote, for a write without a read first. */
  private known?: { state: WindowState; etag: string };

  constructor(
    container: ContainerClient,
    /** The mailbox's folder in the container (mailboxKey()). */
    prefix: string,
    private readonly options: SendingWindowOptions,
    readonly stats: CoordinationStats = newCoordinationStats(),
    private readonly time: Sleeper = systemSleeper,
  ) {
    this.blob = container.getBlockBlobClient(`${prefix}/window.json`);
    this.ensureContainer = createOnce(async () => {
      this.stats.requests++;
      await container.createIfNotExists();
    });
    this.bucketMs = Math.max(1, Math.floor(options.dayMs / BUCKETS_PER_DAY));
  }

  /** Whether there is anything to coordinate. */
  get enabled(): boolean {
    return this.options.messagesPerWindow > 0 || this.options.recipientsPerDay > 0;
  }

  /**
   * Counts one send to `recipients` recipients against the shared window and budget, waiting
   * (until `deadline`) for the window to open. Rejects with a RelayError when the send must not
   * start: smtp_throttled (the window is too far off), daily_limit (the budget is spent), or
   * storage_unavailable (the state could not be read or written).
   */
  async reserve(recipients: number, deadline: number): Promise<void> {
    if (!this.enabled) return;
    const { recipientsPerDay } = this.options;
    if (recipientsPerDay > 0 && recipients > recipientsPerDay) {
      throw new RelayError(`the message has ${recipients} recipients, more than the mailbox may send to in a day (${recipientsPerDay})`, {
        reason: 'daily_limit',
        kind: 'permanent',
        ...advice('daily_limit'),
      });
    }
    let waited = false;
    // The kept state is tried once per send: after that, every write follows a read, as the race rules below expect.
    let tryKnown = true;
    for (let conflicts = 0; ;) {
      const known = tryKnown ? this.known : undefined;
      tryKnown = false;
      const read = known ?? (await this.read());
      const now = this.time.now();
      const state = this.pruned(read?.state, now);
      const budgetOpensAt = this.budgetOpensAt(state, recipients);
      const windowOpensAt = this.windowOpensAt(state);
      if (known && (budgetOpensAt !== undefined || windowOpensAt > now)) {
        // Not on a state that may be stale: read the blob, then decide.
        continue;
      }
      if (budgetOpensAt !== undefined) {
        this.stats.deferred++;
        throw dailyLimitReached(Math.max(1, Math.ceil((budgetOpensAt - now) / 1000)), recipients, recipientsPerDay);
      }
      if (windowOpensAt > now) {
        if (windowOpensAt > deadline) {
          this.stats.deferred++;
          throw windowFull(windowOpensAt - now);
        }
        if (!waited) this.stats.waited++;
        waited = true;
        // A little past the opening, spread out, so waiting instances do not all read at once.
        await this.time.sleep(windowOpensAt - now + Math.floor(this.time.random() * 50));
        continue;
      }
      this.count(state, now, recipients);
      this.known = undefined;
      const etag = await this.write(state, read?.etag);
      if (etag !== undefined) {
        this.known = { state, etag };
        return;
      }
      // The kept state was not the newest (another instance wrote): read it, no race lost yet.
      if (known) continue;
      this.stats.conflicts++;
      if (++conflicts >= MAX_CONFLICTS || this.time.now() > deadline) {
        this.stats.deferred++;
        throw windowFull(1000);
      }
      await this.time.sleep(Math.floor(this.time.random() * 20 * Math.min(conflicts, 10)) + 5);
    }
  }

  /** The state with what no longer counts removed. */
  private pruned(state: WindowState | undefined, now: number): WindowState {
    const { windowMs, dayMs } = this.options;
    const sendsCountUntil = windowMs + countingMarginMs(windowMs);
    const bucketsCountUntil = this.bucketMs + dayMs + countingMarginMs(dayMs);
    return {
      v: 1,
      sends: (state?.sends ?? []).filter((time) => time > now - sendsCountUntil),
      // Copies: count() changes the last bucket, and the state it came from may be the kept one.
      buckets: (state?.buckets ?? []).filter(([start]) => start > now - bucketsCountUntil).map(([start, count]): [number, number] => [start, count]),
    };
  }

  /** When the window lets one more send start (≤ now: at once). */
  private windowOpensAt(state: WindowState): number {
    const limit = this.options.messagesPerWindow;
    if (limit <= 0 || state.sends.length < limit) return 0;
    const windowMs = this.options.windowMs;
    return state.sends[state.sends.length - limit]! + windowMs + countingMarginMs(windowMs);
  }

  /** When enough recipients age out for `recipients` more; undefined when they fit now. */
  private budgetOpensAt(state: WindowState, recipients: number): number | undefined {
    const limit = this.options.recipientsPerDay;
    if (limit <= 0) return undefined;
    let used = state.buckets.reduce((sum, [, count]) => sum + count, 0);
    if (used + recipients <= limit) return undefined;
    const agesOut = this.bucketMs + this.options.dayMs + countingMarginMs(this.options.dayMs);
    for (const [start, count] of state.buckets) {
      used -= count;
      if (used + recipients <= limit) return start + agesOut;
    }
    return this.time.now() + agesOut;
  }

  private count(state: WindowState, now: number, recipients: number): void {
    const limit = this.options.messagesPerWindow;
    if (limit > 0) {
      state.sends.push(now);
      if (state.sends.length > limit) state.sends.splice(0, state.sends.length - limit);
    }
    if (this.options.recipientsPerDay > 0) {
      const start = now - (now % this.bucketMs);
      const last = state.buckets[state.buckets.length - 1];
      if (last && last[0] === start) last[1] += recipients;
      else state.buckets.push([start, recipients]);
    }
  }

  private async read(): Promise<{ state: WindowState; etag: string } | undefined> {
    try {
      await this.ensureContainer(); // once per process
    } catch (error) {
      throw coordinationFailed(error);
    }
    const version = await this.storage(() => readVersion(this.blob));
    if (!version) return undefined;
    return { state: parseState(version.body), etag: version.etag };
  }

  /** The new ETag, or undefined when another instance wrote first. */
  private async write(state: WindowState, etag: string | undefined): Promise<string | undefined> {
    return this.storage(() => uploadIf(this.blob, JSON.stringify(state), etag ? { ifMatch: etag } : { ifNoneMatch: '*' }, 'application/json'));
  }

  /** One storage request, counted; any failure refuses the send. */
  private async storage<T>(request: () => Promise<T>): Promise<T> {
    this.stats.requests++;
    try {
      return await request();
    } catch (error) {
      throw coordinationFailed(error);
    }
  }
}

/** A body that is not ours (hand-edited, truncated) counts as empty rather than blocking the mailbox for good. */
function parseState(body: Buffer): WindowState {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<WindowState>;
    const sends = Array.isArray(parsed.sends) ? parsed.sends.filter((time): time is number => Number.isFinite(time)) : [];
    const buckets = Array.isArray(parsed.buckets)
      ? parsed.buckets.filter((bucket): bucket is [number, number] => Array.isArray(bucket) && Number.isFinite(bucket[0]) && Number.isFinite(bucket[1]))
      : [];
    return { v: 1, sends, buckets };
  } catch {
    return { v: 1, sends: [], buckets: [] };
  }
}

export function windowFull(waitMs: number): RelayError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new RelayError(`sending paused for this mailbox for about ${seconds} s to stay under the provider's limits (shared by every instance)`, {
    reason: 'smtp_throttled',
    kind: 'transient',
    retryAfterSeconds: seconds,
    ...advice('mailbox_paused'),
  });
}

function dailyLimitReached(seconds: number, recipients: number, limit: number): RelayError {
  return new RelayError(
    `the mailbox's ${limit} recipients a day (SMTP_DAILY_RECIPIENT_LIMIT) leave no room for this message's ${recipients} now; it waits about ${seconds} s, until enough of the day's sends age out`,
    { reason: 'daily_limit', kind: 'transient', retryAfterSeconds: seconds, ...advice('daily_limit') },
  );
}

/** A storage failure while coordinating: the message goes back to the queue, never out past the limits. */
export function coordinationFailed(error: unknown): RelayError {
  if (error instanceof RelayError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new RelayError(`could not coordinate the mailbox's limits through storage${typeof status === 'number' ? ` (HTTP ${status})` : ''}: ${detail}`, {
    reason: 'storage_unavailable',
    kind: 'transient',
    cause: error,
    ...advice('storage_unavailable'),
  });
}
