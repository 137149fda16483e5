/**
 * Storage clients for the account the relay already uses (AzureWebJobsStorage):
 * a connection string locally and with keys, or the Function App's managed
 * identity when the app uses an identity-based connection.
 */
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { QueueServiceClient, type StoragePipelineOptions } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import type { StorageConnection } from '../settings';

export interface StorageClients {
  queues: QueueServiceClient;
  blobs: BlobServiceClient;
}

// Writes happen inside an invocation: a few quick tries, then let the queue retry
// the whole message, rather than the SDK's default minutes of back-off.
const pipelineOptions: StoragePipelineOptions = {
  retryOptions: { maxTries: 3, tryTimeoutInMs: 15_000, retryDelayInMs: 500, maxRetryDelayInMs: 4_000 },
};

export function createStorageClients(connection: StorageConnection): StorageClients {
  if (connection.kind === 'connectionString') {
    return {
      queues: QueueServiceClient.fromConnectionString(connection.connectionString, pipelineOptions),
      blobs: BlobServiceClient.fromConnectionString(connection.connectionString, pipelineOptions),
    };
  }
  const credential: TokenCredential = connection.clientId ? new ManagedIdentityCredential({ clientId: connection.clientId }) : new DefaultAzureCredential();
  return {
    queues: new QueueServiceClient(connection.queueServiceUri, credential, pipelineOptions),
    blobs: new BlobServiceClient(connection.blobServiceUri, credential, pipelineOptions),
  };
}

/**
 * `create` (a createIfNotExists) run once and shared by every caller; a failure
 * is not remembered, so the next caller tries again rather than failing forever.
 */
export function createOnce(create: () => Promise<unknown>): () => Promise<void> {
  let created: Promise<void> | undefined;
  return () =>
    (created ??= create().then(
      () => undefined,
      (error: unknown) => {
        created = undefined;
        throw error;
      },
    ));
}
