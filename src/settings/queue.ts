/**
 * The queue and delivery section: queue and container names, attempts, attachment size,
 * the retry backoff and the delivery ledger, with the storage connection they live in.
 */
import { echoSetting } from '../core/echo';
import type { SettingsReader } from './reader';
import { STORAGE_CONNECTION_SETTING } from './spec';
import { readStorageConnection } from './storage';
import type { QueueSettings } from './types';

/** Undefined when the storage connection is unusable (reported). */
export function readQueue(reader: SettingsReader): QueueSettings | undefined {
  const queueName = reader.storageName('RELAY_QUEUE_NAME');
  const deadLetterQueueName = reader.storageName('RELAY_DEADLETTER_QUEUE_NAME');
  if (queueName === deadLetterQueueName) {
    reader.report('RELAY_DEADLETTER_QUEUE_NAME', `equals RELAY_QUEUE_NAME (${echoSetting(queueName)}): dead letters would be relayed again`);
  }
  const deadLetterContainerName = reader.storageName('RELAY_DEADLETTER_CONTAINER');
  const maxDequeueCount = reader.integer('RELAY_MAX_DEQUEUE_COUNT');
  const attachmentContainerName = reader.storageName('RELAY_ATTACHMENT_CONTAINER');
  const maxAttachmentBytes = reader.integer('MAIL_MAX_ATTACHMENTS_MB') * 2 ** 20;
  const ledgerContainerName = reader.storageName('RELAY_LEDGER_CONTAINER');
  if (ledgerContainerName === deadLetterContainerName) {
    reader.report(
      'RELAY_LEDGER_CONTAINER',
      `equals RELAY_DEADLETTER_CONTAINER (${echoSetting(ledgerContainerName)}): keep ledger entries and dead-letter records apart`,
    );
  }
  const coordinationContainerName = reader.storageName('RELAY_COORDINATION_CONTAINER');
  checkAttachmentContainerApart(reader, attachmentContainerName, {
    RELAY_LEDGER_CONTAINER: ledgerContainerName,
    RELAY_DEADLETTER_CONTAINER: deadLetterContainerName,
    RELAY_COORDINATION_CONTAINER: coordinationContainerName,
  });
  if (HOST_CONTAINER_PREFIXES.some((prefix) => attachmentContainerName.startsWith(prefix))) {
    reader.report(
      'RELAY_ATTACHMENT_CONTAINER',
      `${echoSetting(attachmentContainerName)} is a container of the Functions host or its deployment: producers can read every blob of the attachment container`,
    );
  }
  const ledgerLeaseSeconds = reader.integer('RELAY_LEDGER_LEASE_SECONDS');
  const retry = {
    firstDelaySeconds: reader.integer('RELAY_RETRY_FIRST_DELAY_SECONDS'),
    maxDelaySeconds: reader.integer('RELAY_RETRY_MAX_DELAY_SECONDS'),
    maxAgeSeconds: reader.integer('RELAY_RETRY_MAX_AGE_SECONDS'),
  };
  if (retry.firstDelaySeconds > retry.maxDelaySeconds && !reader.hasProblem('RELAY_RETRY_MAX_DELAY_SECONDS')) {
    reader.report('RELAY_RETRY_MAX_DELAY_SECONDS', `${retry.maxDelaySeconds} is below RELAY_RETRY_FIRST_DELAY_SECONDS (${retry.firstDelaySeconds})`);
  }
  const connection = readStorageConnection(reader);
  if (connection === undefined) return undefined;
  return {
    connectionSetting: STORAGE_CONNECTION_SETTING,
    connection,
    queueName,
    deadLetterQueueName,
    deadLetterContainerName,
    maxDequeueCount,
    attachmentContainerName,
    maxAttachmentBytes,
    ledgerContainerName,
    coordinationContainerName,
    ledgerLeaseSeconds,
    retry,
  };
}

/** Containers of the host (keys, leases, timers) and of a Flex Consumption deployment (the app's package). */
const HOST_CONTAINER_PREFIXES = ['azure-webjobs-', 'app-package-'];

/**
 * Producers name any blob of the attachment container, so it must hold nothing but attachments:
 * sharing it with the ledger (and its retry-envelope key), dead letters, the monitor's state or the
 * host's own containers would let a producer mail their contents to itself.
 */
export function checkAttachmentContainerApart(reader: SettingsReader, attachments: string, others: Record<string, string>): void {
  for (const [setting, container] of Object.entries(others)) {
    if (container === attachments) {
      reader.report(
        'RELAY_ATTACHMENT_CONTAINER',
        `equals ${setting} (${echoSetting(container)}): producers can read every blob of the attachment container, so it must hold only attachments`,
      );
    }
  }
}
