/**
 * The delivery ledger: one small JSON blob per message key in the storage
 * account the relay already uses, so a message the queue delivers twice
 * (crash, timeout, lost pop receipt, a retry copy whose original was not
 * deleted) is sent once.
 *
 * Claims use the blob service's conditional writes: the first claim creates
 * the blob with If-None-Match: *, every later change goes through If-Match
 * with the ETag read, so two instances can never both hold the same message.
 *
 *   sending        claimed by `owner` until `leaseUntil`; the send is under way
 *   retry          a transient failure released the claim; the next attempt may claim it
 *   sent           the SMTP server accepted it: Message-ID and reply recorded, never sent again
 *   dead-lettered  a dead-letter record holds it; only replay reopens it
 *
 * The remaining window: a process that dies after the SMTP server's 250 reply
 * and before `sent` is written leaves a `sending` claim; once its lease runs
 * out, a redelivery takes the claim over and sends again. The Message-ID is
 * stable for a message with an `id`, so receivers can still recognise it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RestError } from '@azure/storage-blob';
import type { ContainerClient } from '@azure/storage-blob';
import type { ReasonCode } from '../errors';
import { createOnce } from '../storage';

export const LEDGER_SCHEMA = 'oauth2-smtp-relay/ledger/v1';

export type LedgerState = 'sending' | 'retry' | 'sent' | 'dead-lettered';

export interface LedgerEntry {
  schema: typeof LEDGER_SCHEMA;
  key: string;
  state: LedgerState;
  /** The invocation that holds (or last held) the claim. */
  owner: string;
  /** Claims made so far (one per attempt that got to send). */
  claims: number;
  claimedAt: string;
  /** A `sending` claim older than this may be taken over (its holder is presumed dead). */
  leaseUntil?: string;
  queueMessageId?: string;
  /** Set once sent: what the SMTP server accepted. */
  messageId?: string;
  smtpReply?: string;
  accepted?: string[];
  rejected?: string[];
  sentAt?: string;
  /** Set by a transient failure or a dead-letter. */
  lastReason?: ReasonCode;
  deadLetterRecordId?: string;
  deadLetteredAt?: string;
  /** Set when replay reopened a dead-lettered entry. */
  replayedAt?: string;
  updatedAt: string;
}

export interface LedgerClaim {
  key: string;
  owner: string;
  etag: string;
  entry: LedgerEntry;
}

export type ClaimResult =
  /** This invocation may send; `previous` is the entry it replaced (a released or expired claim). */
  | { outcome: 'claimed'; claim: LedgerClaim; previous?: LedgerEntry }
  /** Sent or dead-lettered already: do nothing more. */
  | { outcome: 'done'; entry: LedgerEntry }
  /** Another live claim holds it; try again after `retryAfterSeconds`. */
  | { outcome: 'busy'; entry: LedgerEntry; retryAfterSeconds: number };

export interface SentDetails {
  messageId: string;
  response: string;
  accepted: string[];
  rejected: string[];
}

export type ReopenResult = 'reopened' | 'not-found' | 'already-sent' | 'busy';

export interface DeliveryLedger {
  claim(key: string, context: { queueMessageId?: string }): Promise<ClaimResult>;
  markSent(claim: LedgerClaim, sent: SentDetails): Promise<void>;
  /** After a transient failure: let the next attempt claim it. */
  release(claim: LedgerClaim, reason: ReasonCode): Promise<void>;
  markDeadLettered(claim: LedgerClaim, reason: ReasonCode, recordId: string): Promise<void>;
  /** For replay: a dead-lettered entry becomes claimable again; a sent one stays sent. */
  reopen(key: string): Promise<ReopenResult>;
  read(key: string): Promise<LedgerEntry | undefined>;
}

export interface BlobLedgerOptions {
  /** How long a `sending` claim protects a send; longer than the function timeout. */
  leaseSeconds: number;
  now?: () => Date;
}

/** Blob name for a key: a hash, so any key (spaces, slashes, 200 characters) makes a valid, flat name. */
export function ledgerBlobName(key: string): string {
  return `${createHash('sha256').update(key, 'utf8').digest('hex')}.json`;
}

/** A process-unique prefix, so logs and entries show which instance held a claim. */
const PROCESS_TAG = `${hostname()}:${process.pid}`;

export class BlobDeliveryLedger implements DeliveryLedger {
  private readonly now: () => Date;

  constructor(private readonly container: ContainerClient, private readonly options: BlobLedgerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  get containerName(): string {
    return this.container.containerName;
  }

  async claim(key: string, context: { queueMessageId?: string }): Promise<ClaimResult> {
    await this.ensureContainer();
    const owner = `${PROCESS_TAG}:${randomUUID()}`;
    const fresh = this.sendingEntry(key, owner, context.queueMessageId, undefined);
    const created = await this.write(key, fresh, { ifNoneMatch: '*' });
    if (created) return { outcome: 'claimed', claim: { key, owner, etag: created, entry: fresh } };

    const current = await this.readWithEtag(key);
    if (!current) {
      // Deleted between our two requests (a person tidying up): claim it afresh.
      return this.claim(key, context);
    }
    const { entry, etag } = current;
    if (entry.state === 'sent' || entry.state === 'dead-lettered') return { outcome: 'done', entry };
    if (entry.state === 'sending') {
      const remainingMs = Date.parse(entry.leaseUntil ?? '') - this.now().getTime();
      if (remainingMs > 0) return { outcome: 'busy', entry, retryAfterSeconds: Math.ceil(remainingMs / 1000) };
    }
    // Released after a failure, or the holder's lease ran out: take it over, unless someone else just did.
    const next = this.sendingEntry(key, owner, context.queueMessageId, entry);
    const taken = await this.write(key, next, { ifMatch: etag });
    if (taken) return { outcome: 'claimed', claim: { key, owner, etag: taken, entry: next }, previous: entry };
    const winner = await this.read(key);
    if (winner && (winner.state === 'sent' || winner.state === 'dead-lettered')) return { outcome: 'done', entry: winner };
    return { outcome: 'busy', entry: winner ?? entry, retryAfterSeconds: this.options.leaseSeconds };
  }

  async markSent(claim: LedgerClaim, sent: SentDetails): Promise<void> {
    const at = this.now().toISOString();
    await this.update(claim, {
      ...claim.entry,
      state: 'sent',
      leaseUntil: undefined,
      messageId: sent.messageId,
      smtpReply: sent.response,
      accepted: sent.accepted,
      rejected: sent.rejected,
      sentAt: at,
      updatedAt: at,
    });
  }

  async release(claim: LedgerClaim, reason: ReasonCode): Promise<void> {
    await this.update(claim, { ...claim.entry, state: 'retry', leaseUntil: undefined, lastReason: reason, updatedAt: this.now().toISOString() });
  }

  async markDeadLettered(claim: LedgerClaim, reason: ReasonCode, recordId: string): Promise<void> {
    const at = this.now().toISOString();
    await this.update(claim, {
      ...claim.entry,
      state: 'dead-lettered',
      leaseUntil: undefined,
      lastReason: reason,
      deadLetterRecordId: recordId,
      deadLetteredAt: at,
      updatedAt: at,
    });
  }

  async reopen(key: string): Promise<ReopenResult> {
    await this.ensureContainer();
    const current = await this.readWithEtag(key);
    if (!current) return 'not-found';
    if (current.entry.state === 'sent') return 'already-sent';
    if (current.entry.state !== 'dead-lettered') return current.entry.state === 'retry' ? 'reopened' : 'busy';
    const at = this.now().toISOString();
    const written = await this.write(key, { ...current.entry, state: 'retry', replayedAt: at, updatedAt: at }, { ifMatch: current.etag });
    return written ? 'reopened' : 'busy';
  }

  async read(key: string): Promise<LedgerEntry | undefined> {
    return (await this.readWithEtag(key))?.entry;
  }

  // ------------------------------------------------------------------ blobs

  private sendingEntry(key: string, owner: string, queueMessageId: string | undefined, previous: LedgerEntry | undefined): LedgerEntry {
    const now = this.now();
    return {
      ...previous,
      schema: LEDGER_SCHEMA,
      key,
      state: 'sending',
      owner,
      claims: (previous?.claims ?? 0) + 1,
      claimedAt: now.toISOString(),
      leaseUntil: new Date(now.getTime() + this.options.leaseSeconds * 1000).toISOString(),
      queueMessageId: previous?.queueMessageId ?? queueMessageId,
      updatedAt: now.toISOString(),
    };
  }

  /** Writes under our claim; throws LedgerConflictError when someone else took the entry over meanwhile. */
  private async update(claim: LedgerClaim, entry: LedgerEntry): Promise<void> {
    const etag = await this.write(claim.key, entry, { ifMatch: claim.etag });
    if (!etag) throw new LedgerConflictError(claim.key);
    claim.etag = etag;
    claim.entry = entry;
  }

  /** The new ETag, or undefined when the condition failed (someone else wrote first). */
  private async write(key: string, entry: LedgerEntry, conditions: { ifNoneMatch?: string; ifMatch?: string }): Promise<string | undefined> {
    const text = JSON.stringify(entry);
    try {
      const response = await this.container.getBlockBlobClient(ledgerBlobName(key)).upload(text, Buffer.byteLength(text), {
        conditions,
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return response.etag;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  private async readWithEtag(key: string): Promise<{ entry: LedgerEntry; etag: string } | undefined> {
    try {
      // One GET: the body and the ETag of that same version.
      const response = await this.container.getBlockBlobClient(ledgerBlobName(key)).download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
      return { entry: JSON.parse(Buffer.concat(chunks).toString('utf8')) as LedgerEntry, etag: response.etag! };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  private readonly ensureContainer = createOnce(() => this.container.createIfNotExists());
}

/** Our claim was taken over (our lease ran out while we were sending). */
export class LedgerConflictError extends Error {
  constructor(readonly key: string) {
    super(`the ledger entry for ${key} was changed by another instance`);
    this.name = 'LedgerConflictError';
  }
}

/** 412 (If-Match failed) or 409 BlobAlreadyExists (If-None-Match: * on an existing blob). */
function isConditionFailure(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 412 || error.statusCode === 409);
}
