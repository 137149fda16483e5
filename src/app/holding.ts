/**
 * What holds messages while the relay's settings are invalid (src/relay/misconfiguration.ts):
 * the dead-letter writer, the retry queue and the envelope key on the storage of the
 * queue settings, built once and rebuilt only when those storage settings change
 * (the settings are read again for every message until they are valid).
 */
import type { QueueSettings } from '../settings';
import { createStorageClients } from '../transport/storage';
import { DeadLetterWriter } from '../delivery/deadLetters';
import { QueueRetries } from '../delivery/retryQueue';
import { BlobEnvelopeKeys } from '../delivery/envelopeKey';
import type { HoldingParts } from '../relay/misconfiguration';

let built: { key: string; parts: HoldingParts } | undefined;

export function holdingParts(queue: QueueSettings): HoldingParts {
  const key = JSON.stringify([queue.connection, queue.queueName, queue.deadLetterQueueName, queue.deadLetterContainerName, queue.ledgerContainerName]);
  if (built?.key !== key) {
    const storage = createStorageClients(queue.connection);
    built = {
      key,
      parts: {
        deadLetters: new DeadLetterWriter(storage, queue.deadLetterQueueName, queue.deadLetterContainerName),
        retryQueue: new QueueRetries(storage.queues.getQueueClient(queue.queueName)),
        envelopes: new BlobEnvelopeKeys(storage.blobs.getContainerClient(queue.ledgerContainerName)),
      },
    };
  }
  return built.parts;
}
