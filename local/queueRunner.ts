/**
 * A small stand-in for the Azure Functions host's queue trigger, for machines
 * without Core Tools (the local run, the tests). It follows the host's
 * documented queue semantics, read from the same host.json:
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
 */
import { readFileSync } from 'node:fs';
import type { QueueClient } from '@azure/storage-queue';
import type { Logger } from '../src/core/log';
import type { QueueDelivery } from '../src/delivery/ports';

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

export class QueueRunner {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(private readonly options: QueueRunnerOptions) {}

  async start(): Promise<void> {
    await this.options.queue.createIfNotExists();
    await this.options.poisonQueue.createIfNotExists();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
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
    const inFlight = new Set<Promise<void>>();
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
      await queue.deleteMessage(item.messageId, item.popReceipt);
    } catch (error) {
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
  }
}
