/** Remedies of the storage account: the relay's queues and blobs, and the attachment container. */
import type { Remedy } from './entry';

export const STORAGE_REMEDIES = {
  storage_unavailable: "Check the storage account behind AzureWebJobsStorage (reachable, and the app's identity has Storage Queue/Blob Data Contributor).",
  attachment_access_denied: "Grant the Function App's identity Storage Blob Data Reader on the attachment container.",
} as const satisfies Record<string, Remedy>;
