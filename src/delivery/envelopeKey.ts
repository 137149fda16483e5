/**
 * The key that authenticates the relay's own retry copies (HMAC-SHA256, see
 * retryEnvelope.ts). Producers can write to the queue, so a retry envelope is
 * only believed when it carries the relay's signature.
 *
 * The key is 32 random bytes in one blob of the ledger container, created by
 * whichever instance needs it first (If-None-Match: *, so concurrent instances
 * end up with the same key) and cached per process. Anyone who can read that
 * container could sign envelopes; anyone who can write it could rewrite the
 * ledger anyway, so it is exactly as protected as the ledger: producers get
 * queue-sender rights (and at most the attachment container), never the
 * relay's containers.
 *
 * The cache is re-read every hour and, at most once a minute, when a signature
 * does not verify (the blob was deleted and another instance made a new key).
 * A load also touches the blob (its Last-Modified) when it is over a day old:
 * the ledger container's lifecycle rule deletes entries by age (30 days, at
 * least 8), and a key in use is then never that old. A copy is checked within
 * its backoff (at most a day) of being signed. A key that is lost anyway only costs the retry copies
 * then in flight: they are dead-lettered as invalid_message, and replay
 * re-queues them with a new signature.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { registerSecret } from '../core/redact';
import { createOnce } from '../transport/storage';
import { downloadVersion, isBlobNotFound, uploadIf } from '../transport/conditionalBlob';

export const ENVELOPE_KEY_BLOB = 'keys/retry-envelope-hmac.json';
const KEY_SCHEMA = 'oauth2-smtp-relay/envelope-key/v1';

const RELOAD_AFTER_MS = 3_600_000;
const RELOAD_ON_MISMATCH_AFTER_MS = 60_000;
const REFRESH_AFTER_MS = 24 * 3_600_000;

export interface EnvelopeKeys {
  /** The key to sign with and to check against first. */
  current(): Promise<Buffer>;
  /** After a signature failed: a key read afresh, if the cached one is over a minute old; else undefined. */
  reloadAfterMismatch(): Promise<Buffer | undefined>;
}

interface StoredKey {
  schema: typeof KEY_SCHEMA;
  algorithm: 'HMAC-SHA256';
  key: string;
  createdAt: string;
}

export class BlobEnvelopeKeys implements EnvelopeKeys {
  private cached?: { key: Promise<Buffer>; loadedAt: number };
  private readonly now: () => number;

  constructor(
    private readonly container: ContainerClient,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  current(): Promise<Buffer> {
    if (!this.cached || this.now() - this.cached.loadedAt >= RELOAD_AFTER_MS) return this.reload();
    return this.cached.key;
  }

  async reloadAfterMismatch(): Promise<Buffer | undefined> {
    if (this.cached && this.now() - this.cached.loadedAt < RELOAD_ON_MISMATCH_AFTER_MS) return undefined;
    return this.reload();
  }

  private reload(): Promise<Buffer> {
    const key = this.load();
    const entry = { key, loadedAt: this.now() };
    this.cached = entry;
    // A failed load is not remembered: the next caller tries again.
    key.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return key;
  }

  private async load(): Promise<Buffer> {
    await this.ensureContainer();
    const blob = this.container.getBlockBlobClient(ENVELOPE_KEY_BLOB);
    for (let tries = 0; ; tries++) {
      const fresh: StoredKey = {
        schema: KEY_SCHEMA,
        algorithm: 'HMAC-SHA256',
        key: randomBytes(32).toString('base64'),
        createdAt: new Date(this.now()).toISOString(),
      };
      if (await uploadIf(blob, JSON.stringify(fresh), { ifNoneMatch: '*' }, 'application/json')) return keyOf(fresh);
      try {
        const version = await downloadVersion(blob);
        const stored = JSON.parse(version.body.toString('utf8')) as StoredKey;
        if (version.lastModified && this.now() - version.lastModified.getTime() > REFRESH_AFTER_MS) {
          // Touch it (Last-Modified moves), so an age-based lifecycle rule leaves it alone; losing this race is fine.
          await blob.setMetadata({ refreshed: new Date(this.now()).toISOString() }, { conditions: { ifMatch: version.etag } }).catch(() => undefined);
        }
        return keyOf(stored);
      } catch (error) {
        // Deleted between the two requests: create it afresh (once).
        if (isBlobNotFound(error) && tries === 0) continue;
        throw error;
      }
    }
  }

  private readonly ensureContainer = createOnce(() => this.container.createIfNotExists());
}

function keyOf(stored: StoredKey): Buffer {
  const key = Buffer.from(typeof stored.key === 'string' ? stored.key : '', 'base64');
  if (stored.schema !== KEY_SCHEMA || key.length < 32)
    throw new Error(`the retry-envelope key blob ${ENVELOPE_KEY_BLOB} is not a key this relay wrote; delete it and the relay makes a new one`);
  registerSecret(stored.key);
  return key;
}
