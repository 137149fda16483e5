/** Retry copies go back onto the relay's own queue, invisible for the backoff delay. */
import type { QueueClient } from '@azure/storage-queue';
import type { RetryQueue } from './ports';

export class QueueRetries implements RetryQueue {
  constructor(private readonly queue: QueueClient) {}

  async enqueue(text: string, delaySeconds: number): Promise<string> {
    // Never expire: a retry copy must not vanish before its maximum age dead-letters it.
    const sent = await this.queue.sendMessage(text, { visibilityTimeout: delaySeconds, messageTimeToLive: -1 });
    return sent.messageId;
  }
}
