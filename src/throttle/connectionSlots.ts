/**
 * The mailbox's connections, shared by every instance of the app: N blobs in the
 * coordination container (slot-0 … slot-N-1 in the mailbox's folder), and a
 * connection may be open only while its process holds a lease on one of them.
 * A lease lasts LEASE_SECONDS and is renewed while the connection is open, so the
 * slot of a process that died frees itself within a minute; Azure Storage grants a
 * lease to one holder at a time, which is the whole mechanism.
 */
import { randomUUID } from 'node:crypto';
import { RestError, type BlobLeaseClient, type ContainerClient } from '@azure/storage-blob';
import { uploadIf } from '../transport/conditionalBlob';
import { createOnce } from '../transport/storage';
import { coordinationFailed, newCoordinationStats, type CoordinationStats } from './sendingWindow';

/** Azure Storage leases last 15 to 60 s (or forever): the longest finite one, renewed every third of it. */
export const LEASE_SECONDS = 60;

export interface SlotLease {
  readonly index: number;
  /** Keeps the slot for another LEASE_SECONDS; rejects when the lease was lost (or storage failed). */
  renew(): Promise<void>;
  /** Frees the slot for any instance; a failure only means it frees itself when the lease runs out. */
  release(): Promise<void>;
}

export class ConnectionSlots {
  private readonly ensureContainer: () => Promise<void>;

  constructor(
    private readonly container: ContainerClient,
    /** The mailbox's folder in the container (mailboxKey()). */
    private readonly prefix: string,
    /** The mailbox's connection limit for the whole app. */
    readonly count: number,
    readonly stats: CoordinationStats = newCoordinationStats(),
    private readonly random: () => number = Math.random,
  ) {
    this.ensureContainer = createOnce(async () => {
      this.countRequest();
      await container.createIfNotExists();
    });
  }

  /** Leases a free slot (trying them in random order, so instances do not all queue on slot 0), or undefined when all are held. */
  async tryAcquire(): Promise<SlotLease | undefined> {
    try {
      await this.ensureContainer();
    } catch (error) {
      throw coordinationFailed(error);
    }
    const order = [...Array(this.count).keys()].sort(() => this.random() - 0.5);
    for (const index of order) {
      const lease = await this.tryLease(index);
      if (lease) return lease;
    }
    return undefined;
  }

  private async tryLease(index: number): Promise<SlotLease | undefined> {
    const blob = this.container.getBlockBlobClient(`${this.prefix}/slot-${index}`);
    const client = blob.getBlobLeaseClient(randomUUID());
    for (let created = false; ; created = true) {
      this.countRequest();
      try {
        await client.acquireLease(LEASE_SECONDS);
        this.stats.leases++;
        return this.leaseOf(index, client);
      } catch (error) {
        if (isLeaseHeld(error)) return undefined;
        if (!created && error instanceof RestError && error.statusCode === 404) {
          // The slot's first use: create its (empty) blob; another instance may have just done so.
          this.countRequest();
          try {
            await uploadIf(blob, '', { ifNoneMatch: '*' });
          } catch (creation) {
            throw coordinationFailed(creation);
          }
          continue;
        }
        throw coordinationFailed(error);
      }
    }
  }

  /** One storage request of the slots. */
  private countRequest(): void {
    this.stats.requests++;
    this.stats.slotRequests++;
  }

  private leaseOf(index: number, client: BlobLeaseClient): SlotLease {
    const count = () => this.countRequest();
    return {
      index,
      async renew() {
        count();
        try {
          await client.renewLease();
        } catch (error) {
          throw coordinationFailed(error);
        }
      },
      async release() {
        count();
        try {
          await client.releaseLease();
        } catch {
          // It runs out by itself within LEASE_SECONDS.
        }
      },
    };
  }
}

/** 409 LeaseAlreadyPresent: another holder has the slot. */
function isLeaseHeld(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 409;
}
