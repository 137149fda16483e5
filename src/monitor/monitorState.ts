/**
 * What the monitor remembers between ticks, in a small blob of the storage
 * account the relay already uses, so that an instance restart or a scale-out
 * does not raise the same alerts again. Writes are conditional on the ETag read.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { createOnce } from '../transport/storage';
import { readVersion, uploadIf } from '../transport/conditionalBlob';

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
    // The body and the ETag of that same version, so a save never overwrites a write it did not see.
    const version = await readVersion(this.container.getBlockBlobClient(this.blobName));
    if (!version) return { state: { raised: {} } };
    return { state: parseState(version.body.toString('utf8')), etag: version.etag };
  }

  /** Saves unless someone else wrote since `etag` was read; returns false on such a conflict. */
  async save(state: MonitorState, etag: string | undefined): Promise<boolean> {
    await this.ensureContainer();
    const written = await uploadIf(
      this.container.getBlockBlobClient(this.blobName),
      JSON.stringify(state),
      etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
      'application/json',
    );
    return written !== undefined;
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
