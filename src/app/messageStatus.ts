/**
 * The ledger that `GET /api/messages/{id}` and the `status` command read, from the
 * storage settings alone (AzureWebJobsStorage, RELAY_LEDGER_CONTAINER): the status of
 * a message can be asked while other settings are wrong, and never needs the secret.
 */
import { loadQueueConfig, type Environment, type QueueSettings } from '../settings';
import { createStorageClients } from '../transport/storage';
import { BlobDeliveryLedger } from '../delivery/ledger';
import type { MessageStatusDependencies } from '../http/messageStatus';

export function statusLedger(queue: QueueSettings): BlobDeliveryLedger {
  const storage = createStorageClients(queue.connection);
  return new BlobDeliveryLedger(storage.blobs.getContainerClient(queue.ledgerContainerName), { leaseSeconds: queue.ledgerLeaseSeconds });
}

/** For the Functions process: the settings are read on each call, the ledger rebuilt only when its storage settings change. */
export function messageStatusDependencies(env: Environment = process.env): MessageStatusDependencies {
  let built: { key: string; ledger: BlobDeliveryLedger } | undefined;
  return {
    ledger() {
      const queue = loadQueueConfig(env);
      const key = JSON.stringify([queue.connection, queue.ledgerContainerName]);
      if (built?.key !== key) built = { key, ledger: statusLedger(queue) };
      return built.ledger;
    },
  };
}
