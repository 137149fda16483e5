/**
 * Exactly one instance rotates at a time, however far the app has scaled out:
 * a blob lease in the relay's storage account. A lease that is not released
 * (a crashed instance) expires by itself after its duration.
 */
import { RestError, type ContainerClient } from '@azure/storage-blob';
import { uploadIf } from '../transport/conditionalBlob';

const LEASE_SECONDS = 60;

export interface HeldLease {
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** The lease, or undefined when another instance holds it. */
export async function acquireRotationLease(container: ContainerClient, blobName: string): Promise<HeldLease | undefined> {
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(blobName);
  // Not written when it exists (maybe leased by someone else right now).
  await uploadIf(blob, '', { ifNoneMatch: '*' });
  const lease = blob.getBlobLeaseClient();
  try {
    await lease.acquireLease(LEASE_SECONDS);
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 409) return undefined;
    throw error;
  }
  return {
    renew: async () => {
      await lease.renewLease();
    },
    release: async () => {
      await lease.releaseLease().catch(() => undefined);
    },
  };
}
