/** The clients replay works with, from the relay's own settings (same storage account, queues and ledger). */
import type { QueueSettings, RelayConfig } from '../settings';
import { createStorageClients } from '../transport/storage';
import { BlobDeliveryLedger } from '../delivery/ledger';
import { BlobEnvelopeKeys } from '../delivery/envelopeKey';
import type { PoisonReplayDependencies, ReplayDependencies } from '../deadletters/replay';

export function replayDependencies(config: RelayConfig): ReplayDependencies {
  const storage = createStorageClients(config.queue.connection);
  const ledgerContainer = storage.blobs.getContainerClient(config.queue.ledgerContainerName);
  return {
    deadLetterQueue: storage.queues.getQueueClient(config.queue.deadLetterQueueName),
    relayQueue: storage.queues.getQueueClient(config.queue.queueName),
    blobs: storage.blobs,
    ledger: new BlobDeliveryLedger(ledgerContainer, { leaseSeconds: config.queue.ledgerLeaseSeconds }),
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
