/**
 * What the monitor remembers between ticks, in a small blob of the storage
 * account the relay already uses, so that an instance restart or a scale-out
 * does not raise the same alerts again. Writes are conditional on the ETag read.
 */
import { RestError } from '@azure/storage-blob';
import type { ContainerClient } from '@azure/storage-blob';
import { createOnce } from '../transport/storage';

export interface PendingRemoval {
  /** Graph keyId of the old client secret. */
  keyId: string;
  /** The Key Vault version the old secret was stored as. */
  oldVersion?: string;
  /** ISO time after which it may be removed. */
  notBefore: string;
}

export interface MonitorState {
  /** The Key Vault version seen by the last tick. */
  secretVersion?: string;
  /** Alert keys raised and still active, with when they were raised (ISO). */
  raised: Record<string, string>;
  pendingRemoval?: PendingRemoval;
}

export interface LoadedState {
  state: MonitorState;
  /** Absent when the blob does not exist yet. */
  etag?: string;
}

export class MonitorStateStore {
  private readonly ensureContainer = createOnce(() => this.container.createIfNotExists());

  constructor(
    private readonly container: ContainerClient,
    private readonly blobName: string,
  ) {}

  async load(): Promise<LoadedState> {
    const blob = this.container.getBlockBlobClient(this.blobName);
    try {
      const buffer = await blob.downloadToBuffer();
      const props = await blob.getProperties();
      return { state: parseState(buffer.toString('utf8')), etag: props.etag };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return { state: { raised: {} } };
      throw error;
    }
  }

  /** Saves unless someone else wrote since `etag` was read; returns false on such a conflict. */
  async save(state: MonitorState, etag: string | undefined): Promise<boolean> {
    await this.ensureContainer();
    const text = JSON.stringify(state);
    try {
      await this.container.getBlockBlobClient(this.blobName).upload(text, Buffer.byteLength(text), {
        conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return true;
    } catch (error) {
      if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 409)) return false;
      throw error;
    }
  }
}

function parseState(text: string): MonitorState {
  try {
    const value = JSON.parse(text) as Partial<MonitorState>;
    return {
      secretVersion: typeof value.secretVersion === 'string' ? value.secretVersion : undefined,
      raised: value.raised && typeof value.raised === 'object' ? { ...value.raised } : {},
      ...(value.pendingRemoval ? { pendingRemoval: value.pendingRemoval } : {}),
    };
  } catch {
    // A damaged record only means alerts may be raised once more.
    return { raised: {} };
  }
}
