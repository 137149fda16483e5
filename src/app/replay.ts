/** The clients replay and the other dead-letter commands work with, from the storage settings alone (same account, queues and ledger as the relay). */
import type { QueueSettings } from '../settings';
import { createStorageClients } from '../transport/storage';
import { BlobDeliveryLedger } from '../delivery/ledger';
import { BlobEnvelopeKeys } from '../delivery/envelopeKey';
import type { PoisonReplayDependencies, ReplayDependencies } from '../deadletters/replay';
import type { RecordStore } from '../deadletters/records';

export function replayDependencies(queue: QueueSettings): ReplayDependencies {
  const storage = createStorageClients(queue.connection);
  const ledgerContainer = storage.blobs.getContainerClient(queue.ledgerContainerName);
  return {
    deadLetterQueue: storage.queues.getQueueClient(queue.deadLetterQueueName),
    relayQueue: storage.queues.getQueueClient(queue.queueName),
    blobs: storage.blobs,
    deadLetterContainer: queue.deadLetterContainerName,
    ledger: new BlobDeliveryLedger(ledgerContainer, { leaseSeconds: queue.ledgerLeaseSeconds }),
    envelopes: new BlobEnvelopeKeys(ledgerContainer),
  };
}

/** The host's poison queue and the relay's queue, from the storage settings alone. */
export function poisonReplayDependencies(queue: QueueSettings): PoisonReplayDependencies {
  const storage = createStorageClients(queue.connection);
  return {
    poisonQueue: storage.queues.getQueueClient(`${queue.queueName}-poison`),
    relayQueue: storage.queues.getQueueClient(queue.queueName),
  };
}

/** list, show and purge: the dead-letter queue and container. */
export function recordStore(queue: QueueSettings): RecordStore {
  const storage = createStorageClients(queue.connection);
  return {
    deadLetterQueue: storage.queues.getQueueClient(queue.deadLetterQueueName),
    blobs: storage.blobs,
    deadLetterContainer: queue.deadLetterContainerName,
  };
}
