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
 * A claim is short (a minute by default) and renewed while its send runs
 * (claimRenewal.ts): a live send, however slow, is never taken over, and a
 * dead one's message moves on a lease after the queue hands it out again.
 *
 * The entry also keeps what the envelope of a retry copy cannot be trusted
 * with once the ledger knows it: the attempt count and the first-enqueue time
 * (a genuine old copy put back on the queue must not reset them), and the
 * digest of the message's content, so a different message reusing the same
 * `id` is told apart from a redelivery (`conflict`).
 *
 * The remaining window: a process that dies after the SMTP server's 250 reply
 * and before `sent` is written leaves a `sending` claim; once its lease runs
 * out, a redelivery takes the claim over and sends again. The Message-ID is
 * stable for a message with an `id`, so receivers can still recognise it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ContainerClient } from '@azure/storage-blob';
import type { ReasonCode } from '../core/errors';
import { createOnce } from '../transport/storage';
import { readVersion, uploadIf, type WriteCondition } from '../transport/conditionalBlob';
import { sameDigestVersion } from './messageDigest';
import type { SentMessage } from './ports';

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
  /** The sender (RELAY_SENDERS id, or `default`) the message was routed to. */
  sender?: string;
  /** The content digest of the message this key belongs to (messageDigest.ts); absent for unreadable messages. */
  digest?: string;
  /** The Message-ID the message is sent with (messages with an `id`: derived, so known before sending). */
  plannedMessageId?: string;
  /** The number of the latest attempt that claimed the entry (attempts across retry copies and redeliveries). */
  attempts?: number;
  /** When the application first queued the message: the maximum age counts from here (replay resets it). */
  firstEnqueuedAt?: string;
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
  | { outcome: 'busy'; entry: LedgerEntry; retryAfterSeconds: number }
  /** The key belongs to a message with other content (its digest differs): this is not that message. */
  | { outcome: 'conflict'; entry: LedgerEntry };

/** What an attempt tells the ledger when it claims a key. */
export interface ClaimContext {
  queueMessageId?: string;
  /** The message's content digest; a different stored digest makes the claim a conflict. */
  digest?: string;
  plannedMessageId?: string;
  /** This attempt's number as the queue and envelope count it; the entry keeps the highest. */
  attempt?: number;
  /** The first-enqueue time as this attempt knows it; the entry keeps the one it had first. */
  firstEnqueuedAt?: string;
  /** The sender id the message was routed to (an operator's id, never the producer's text). */
  sender?: string;
}

export type ReopenResult = 'reopened' | 'not-found' | 'already-sent' | 'busy';

export interface DeliveryLedger {
  /** How long a claim holds without renewal. */
  readonly leaseSeconds: number;
  claim(key: string, context: ClaimContext): Promise<ClaimResult>;
  /** Extends a live claim by a lease; throws LedgerConflictError when another attempt took it over meanwhile. */
  renew(claim: LedgerClaim): Promise<void>;
  markSent(claim: LedgerClaim, sent: SentMessage): Promise<void>;
  /** After a transient failure: let the next attempt claim it. */
  release(claim: LedgerClaim, reason: ReasonCode): Promise<void>;
  markDeadLettered(claim: LedgerClaim, reason: ReasonCode, recordId: string): Promise<void>;
  /** For replay: a dead-lettered entry becomes claimable again, its attempts and maximum age start afresh; a sent one stays sent. */
  reopen(key: string): Promise<ReopenResult>;
  read(key: string): Promise<LedgerEntry | undefined>;
}

export interface BlobLedgerOptions {
  /** How long a `sending` claim protects a send without renewal (renewed every third of it while the send runs). */
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

  constructor(
    private readonly container: ContainerClient,
    private readonly options: BlobLedgerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  get containerName(): string {
    return this.container.containerName;
  }

  get leaseSeconds(): number {
    return this.options.leaseSeconds;
  }

  async claim(key: string, context: ClaimContext): Promise<ClaimResult> {
    await this.ensureContainer();
    const owner = `${PROCESS_TAG}:${randomUUID()}`;
    const fresh = this.sendingEntry(key, owner, context, undefined);
    const created = await this.write(key, fresh, { ifNoneMatch: '*' });
    if (created) return { outcome: 'claimed', claim: { key, owner, etag: created, entry: fresh } };

    const current = await this.readWithEtag(key);
    if (!current) {
      // Deleted between our two requests (a person tidying up): claim it afresh.
      return this.claim(key, context);
    }
    const { entry, etag } = current;
    const settled = this.judge(entry, context);
    if (settled) return settled;
    // Released after a failure, or the holder's lease ran out: take it over, unless someone else just did.
    const next = this.sendingEntry(key, owner, context, entry);
    const taken = await this.write(key, next, { ifMatch: etag });
    if (taken) return { outcome: 'claimed', claim: { key, owner, etag: taken, entry: next }, previous: entry };
    const winner = await this.read(key);
    const after = winner && this.judge(winner, context);
    if (after && after.outcome !== 'busy') return after;
    return { outcome: 'busy', entry: winner ?? entry, retryAfterSeconds: this.options.leaseSeconds };
  }

  async renew(claim: LedgerClaim): Promise<void> {
    const now = this.now();
    await this.update(claim, { ...claim.entry, leaseUntil: this.leaseEnd(now), updatedAt: now.toISOString() });
  }

  async markSent(claim: LedgerClaim, sent: SentMessage): Promise<void> {
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
    // Replay starts afresh: attempts from 0, the maximum age from now (the replayed copy's envelope says the same).
    const reopened: LedgerEntry = { ...current.entry, state: 'retry', attempts: 0, firstEnqueuedAt: at, replayedAt: at, updatedAt: at };
    const written = await this.write(key, reopened, { ifMatch: current.etag });
    return written ? 'reopened' : 'busy';
  }

  async read(key: string): Promise<LedgerEntry | undefined> {
    return (await this.readWithEtag(key))?.entry;
  }

  /** The outcome for an entry that must not be claimed now (other content, finished, or held), else undefined. */
  private judge(entry: LedgerEntry, context: ClaimContext): ClaimResult | undefined {
    // Entries of another digest version (or none) cannot be compared: taken as the same message.
    if (entry.digest !== undefined && context.digest !== undefined && sameDigestVersion(entry.digest, context.digest) && entry.digest !== context.digest) {
      return { outcome: 'conflict', entry };
    }
    if (entry.state === 'sent' || entry.state === 'dead-lettered') return { outcome: 'done', entry };
    if (entry.state === 'sending') {
      const remainingMs = Date.parse(entry.leaseUntil ?? '') - this.now().getTime();
      if (remainingMs > 0) return { outcome: 'busy', entry, retryAfterSeconds: Math.ceil(remainingMs / 1000) };
    }
    return undefined;
  }

  // ------------------------------------------------------------------ blobs

  private sendingEntry(key: string, owner: string, context: ClaimContext, previous: LedgerEntry | undefined): LedgerEntry {
    const now = this.now();
    // The ledger, not a (possibly replayed) envelope, counts attempts once it has a count: never backwards.
    const attempts = Math.max(context.attempt ?? 1, (previous?.attempts ?? 0) + 1);
    return {
      ...previous,
      schema: LEDGER_SCHEMA,
      key,
      state: 'sending',
      owner,
      claims: (previous?.claims ?? 0) + 1,
      claimedAt: now.toISOString(),
      leaseUntil: this.leaseEnd(now),
      queueMessageId: previous?.queueMessageId ?? context.queueMessageId,
      sender: context.sender ?? previous?.sender,
      digest: context.digest ?? previous?.digest,
      plannedMessageId: context.plannedMessageId ?? previous?.plannedMessageId,
      attempts,
      firstEnqueuedAt: previous?.firstEnqueuedAt ?? context.firstEnqueuedAt,
      updatedAt: now.toISOString(),
    };
  }

  private leaseEnd(now: Date): string {
    return new Date(now.getTime() + this.options.leaseSeconds * 1000).toISOString();
  }

  /** Writes under our claim; throws LedgerConflictError when someone else took the entry over meanwhile. */
  private async update(claim: LedgerClaim, entry: LedgerEntry): Promise<void> {
    const etag = await this.write(claim.key, entry, { ifMatch: claim.etag });
    if (!etag) throw new LedgerConflictError(claim.key);
    claim.etag = etag;
    claim.entry = entry;
  }

  /** The new ETag, or undefined when the condition failed (someone else wrote first). */
  private write(key: string, entry: LedgerEntry, condition: WriteCondition): Promise<string | undefined> {
    return uploadIf(this.container.getBlockBlobClient(ledgerBlobName(key)), JSON.stringify(entry), condition, 'application/json');
  }

  private async readWithEtag(key: string): Promise<{ entry: LedgerEntry; etag: string } | undefined> {
    const version = await readVersion(this.container.getBlockBlobClient(ledgerBlobName(key)));
    return version && { entry: JSON.parse(version.body.toString('utf8')) as LedgerEntry, etag: version.etag };
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
