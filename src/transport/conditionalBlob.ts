/**
 * Optimistic concurrency on one blob, as the delivery ledger, the retry-envelope
 * key, the monitor's state and the rotation lease use it: create only when absent
 * (If-None-Match: *), replace only the version that was read (If-Match: its
 * ETag), and read a body together with the ETag of that same version (one GET,
 * so the two cannot come from different writes).
 */
import { RestError, type BlockBlobClient } from '@azure/storage-blob';

export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/** 412 (If-Match failed) or 409 BlobAlreadyExists (If-None-Match: * on an existing blob). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 412 || error.statusCode === 409);
}

export function isBlobNotFound(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404;
}

/**
 * Writes `text` when `condition` holds: resolves with the new ETag, or undefined
 * when it did not (someone else created or changed the blob first).
 */
export async function uploadIf(blob: BlockBlobClient, text: string, condition: WriteCondition, contentType?: string): Promise<string | undefined> {
  try {
    const response = await blob.upload(text, Buffer.byteLength(text), {
      conditions: condition,
      ...(contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {}),
    });
    return response.etag;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

export interface BlobVersion {
  body: Buffer;
  /** The ETag of the version `body` was read from: the If-Match of a write that replaces it. */
  etag: string;
  lastModified?: Date;
}

/** The blob's body and ETag in one GET; rejects as the SDK does (a missing blob with a 404 RestError). */
export async function downloadVersion(blob: BlockBlobClient): Promise<BlobVersion> {
  const response = await blob.download();
  const chunks: Buffer[] = [];
  for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
  return { body: Buffer.concat(chunks), etag: response.etag!, lastModified: response.lastModified };
}

/** As downloadVersion, or undefined when the blob does not exist. */
export async function readVersion(blob: BlockBlobClient): Promise<BlobVersion | undefined> {
  try {
    return await downloadVersion(blob);
  } catch (error) {
    if (isBlobNotFound(error)) return undefined;
    throw error;
  }
}
