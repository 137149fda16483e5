/**
 * The Azure Functions host's queue trigger without the host: the plain worker
 * (`oauth2-smtp-relay run`, src/cli/run.ts), the local run and the tests. It
 * follows the host's documented queue semantics, read from the same host.json:
 *
 * - polls with a growing delay while the queue is empty, up to maxPollingInterval;
 * - takes up to batchSize messages at a time, invisible while they are processed, and
 *   the next batch once no more than newBatchThreshold are still being processed;
 * - on success deletes the message; on failure makes it visible again after
 *   visibilityTimeout, and the queue increments its dequeueCount;
 * - a message that failed on its maxDequeueCount-th delivery (or is seen with a
 *   higher count) is moved to `<queue>-poison`, as the host does;
 * - messageEncoding base64 decodes the text first; JSON text is handed over
 *   parsed, as the Node.js worker does.
 *
 * It calls the same handler as the queue function in functions/.
 *
 * stop() stops fetching and waits for the messages in flight (each finishes its
 * handler: its ledger claim ends sent, released or dead-lettered), up to a grace
 * period. A batch that arrives after stop() began is handed back unprocessed.
 */
import { readFileSync } from 'node:fs';
import type { QueueClient } from '@azure/storage-queue';
import type { Logger } from '../core/log';
import type { QueueDelivery } from '../delivery/ports';

export interface HostQueueSettings {
  batchSize: number;
  /** Fetch the next batch when this many are still in flight (host default: batchSize / 2). */
  newBatchThreshold?: number;
  maxDequeueCount: number;
  visibilityTimeoutSeconds: number;
  maxPollingIntervalMs: number;
  messageEncoding: 'base64' | 'none';
}

/** Reads extensions.queues from host.json, with the host's own defaults. */
export function readHostQueueSettings(hostJsonPath: string): HostQueueSettings {
  const host = JSON.parse(readFileSync(hostJsonPath, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } };
  const queues = host.extensions?.queues ?? {};
  return {
    batchSize: Number(queues.batchSize ?? 16),
    newBatchThreshold: queues.newBatchThreshold === undefined ? undefined : Number(queues.newBatchThreshold),
    maxDequeueCount: Number(queues.maxDequeueCount ?? 5),
    visibilityTimeoutSeconds: timeSpanSeconds(queues.visibilityTimeout, 0),
    maxPollingIntervalMs: timeSpanSeconds(queues.maxPollingInterval, 60) * 1000,
    messageEncoding: queues.messageEncoding === 'none' ? 'none' : 'base64',
  };
}

/** "hh:mm:ss" (the host's TimeSpan format) to seconds. */
function timeSpanSeconds(value: unknown, fallback: number): number {
  if (typeof value !== 'string') return fallback;
  const [hours, minutes, seconds, ...more] = value.split(':').map(Number);
  if (hours === undefined || minutes === undefined || seconds === undefined || more.length > 0 || ![hours, minutes, seconds].every(Number.isFinite)) {
    throw new Error(`host.json: bad time span "${value}"`);
  }
  return hours * 3600 + minutes * 60 + seconds;
}

type ReceivedItem = Awaited<ReturnType<QueueClient['receiveMessages']>>['receivedMessageItems'][number];

export type QueueHandler = (payload: unknown, delivery: QueueDelivery) => Promise<unknown>;

export interface QueueRunnerOptions {
  queue: QueueClient;
  poisonQueue: QueueClient;
  settings: HostQueueSettings;
  handler: QueueHandler;
  logger: Logger;
  /** While processing, messages stay invisible this long (the host uses 10 minutes). */
  processingVisibilitySeconds?: number;
}

const MIN_POLL_MS = 100;

/** What the runner has done since it started (the worker's health line). */
export interface QueueRunnerStats {
  /** Invocations that returned (the handler decided the message's outcome). */
  handled: number;
  /** Invocations that threw: the message becomes visible again after visibilityTimeout. */
  failed: number;
  movedToPoison: number;
  /** Messages received after stop() began, made visible again at once. */
  handedBack: number;
}

/** How stop() ended: every message in flight finished, or the grace ran out with `inFlight` still running. */
export interface StopResult {
  finished: boolean;
  inFlight: number;
}

export class QueueRunner {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly inFlight = new Set<Promise<void>>();
  readonly stats: QueueRunnerStats = { handled: 0, failed: 0, movedToPoison: 0, handedBack: 0 };

  constructor(private readonly options: QueueRunnerOptions) {}

  /** Messages being processed now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    await this.options.queue.createIfNotExists();
    await this.options.poisonQueue.createIfNotExists();
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops fetching and waits for the messages in flight: all of them, or at most
   * graceMs (then `finished` is false and those messages are still running).
   */
  async stop(graceMs?: number): Promise<StopResult> {
    this.running = false;
    this.wake?.();
    const loop = this.loop ?? Promise.resolve();
    if (graceMs === undefined) {
      await loop;
      return { finished: true, inFlight: 0 };
    }
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
    const finished = await Promise.race([loop.then(() => true as const), graceOver]);
    clearTimeout(timer);
    return { finished, inFlight: finished ? 0 : this.inFlight.size };
  }

  /** Processes whatever is visible now, once (used by tests to step deterministically). Returns the number handled. */
  async pollOnce(): Promise<number> {
    const received = await this.receiveBatch();
    await Promise.all(received.map((item) => this.process(item)));
    return received.length;
  }

  /** Up to batchSize messages (the service gives at most 32), invisible while they are processed. */
  private async receiveBatch(): Promise<ReceivedItem[]> {
    const received = await this.options.queue.receiveMessages({
      numberOfMessages: Math.min(32, this.options.settings.batchSize),
      visibilityTimeout: this.options.processingVisibilitySeconds ?? 600,
    });
    return received.receivedMessageItems;
  }

  /**
   * The host's loop: fetch a batch, and fetch the next one as soon as no more than
   * newBatchThreshold messages of the previous ones are still being processed; when
   * the queue is empty, wait a little longer each time, up to maxPollingInterval.
   */
  private async run(): Promise<void> {
    const { settings, logger } = this.options;
    const threshold = settings.newBatchThreshold ?? Math.floor(settings.batchSize / 2);
    const inFlight = this.inFlight;
    let delay = MIN_POLL_MS;
    while (this.running) {
      if (inFlight.size > threshold) {
        await Promise.race(inFlight);
        continue;
      }
      let received: ReceivedItem[] = [];
      try {
        received = await this.receiveBatch();
      } catch (error) {
        logger.error('queue poll failed', { error: error instanceof Error ? error.message : String(error) });
      }
      if (!this.running) {
        // Stopping: a batch that arrived meanwhile goes back at once, not after the processing visibility.
        await Promise.all(received.map((item) => this.handBack(item)));
        break;
      }
      for (const item of received) {
        const processing: Promise<void> = this.process(item)
          .catch((error: unknown) => logger.error('message processing failed', { error: error instanceof Error ? error.message : String(error) }))
          .finally(() => inFlight.delete(processing));
        inFlight.add(processing);
      }
      if (received.length > 0) {
        delay = MIN_POLL_MS;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, settings.maxPollingIntervalMs);
    }
    await Promise.all(inFlight);
  }

  private async process(item: ReceivedItem): Promise<void> {
    const { queue, settings, logger } = this.options;
    if (item.dequeueCount > settings.maxDequeueCount) {
      await this.moveToPoison(item);
      return;
    }
    try {
      await this.options.handler(this.payloadOf(item.messageText), {
        dequeueCount: item.dequeueCount,
        queueMessageId: item.messageId,
        insertionTime: item.insertedOn.toISOString(),
      });
      this.stats.handled++;
      await queue.deleteMessage(item.messageId, item.popReceipt);
    } catch (error) {
      this.stats.failed++;
      logger.warn('invocation failed', {
        queueMessageId: item.messageId,
        dequeueCount: item.dequeueCount,
        error: error instanceof Error ? error.message : String(error),
      });
      if (item.dequeueCount >= settings.maxDequeueCount) {
        await this.moveToPoison(item);
      } else {
        await queue.updateMessage(item.messageId, item.popReceipt, undefined, settings.visibilityTimeoutSeconds);
      }
    }
  }

  private async handBack(item: ReceivedItem): Promise<void> {
    try {
      await this.options.queue.updateMessage(item.messageId, item.popReceipt, undefined, 0);
      this.stats.handedBack++;
    } catch (error) {
      // It becomes visible again when its processing visibility ends.
      this.options.logger.warn('could not hand a message back to the queue', {
        queueMessageId: item.messageId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private payloadOf(messageText: string): unknown {
    const text = this.options.settings.messageEncoding === 'base64' ? Buffer.from(messageText, 'base64').toString('utf8') : messageText;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  private async moveToPoison(item: ReceivedItem): Promise<void> {
    this.options.logger.error('message moved to the poison queue', {
      queueMessageId: item.messageId,
      dequeueCount: item.dequeueCount,
      poisonQueue: this.options.poisonQueue.name,
    });
    await this.options.poisonQueue.sendMessage(item.messageText);
    await this.options.queue.deleteMessage(item.messageId, item.popReceipt);
    this.stats.movedToPoison++;
  }
}
