/**
 * A relay on the local stack, driven like the Functions host drives it (the
 * queue runner, stepped with pollOnce), with hooks to inject storage faults,
 * and a reconciliation of what happened to every message it was given:
 * what the SMTP server received, the dead-letter queue, the relay's queue and
 * the host's poison queue.
 *
 * Messages carry an X-Harness-Key header so each delivered copy can be traced
 * back to the message it came from, with or without an `id`.
 */
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalStack } from '../../local/stack';
import { QueueRunner, type HostQueueSettings } from '../../src/worker/queueRunner';
import { loadConfig, oauthOf, type OAuthSettings, type RelayConfig } from '../../src/settings';
import { createTokenProvider } from '../../src/token';
import { MicrosoftTokenSource } from '../../src/token/microsoftTokenSource';
import { TokenCache } from '../../src/token/tokenCache';
import { createMailSender, type MailSender } from '../../src/smtp';
import { createStorageClients } from '../../src/transport/storage';
import { DeadLetterWriter, type DeadLetterRecord } from '../../src/delivery/deadLetters';
import { BlobDeliveryLedger } from '../../src/delivery/ledger';
import { QueueRetries } from '../../src/delivery/retryQueue';
import { BlobEnvelopeKeys } from '../../src/delivery/envelopeKey';
import { relayQueueMessage, type RelayDependencies, type RelayOutcome } from '../../src/relay/handler';
import { relayOf, type Relay } from '../../src/app/relay';
import { createRelayComponents, type RelayComponents } from '../../src/app/components';
import { silentLogger, type Logger } from '../../src/core/log';

export const HARNESS_HEADER = 'X-Harness-Key';

export interface HarnessOptions {
  /** Queue names derive from it; unique per harness. */
  name: string;
  /** App settings on top of the stack's (retry delays default to 0 so pollOnce steps retries). */
  settings?: Record<string, string>;
  /** Token requests time out after this (the product's default is 15 s). */
  tokenRequestTimeoutMs?: number;
  runner?: Partial<HostQueueSettings>;
  /** While a message is processed it is invisible this long (the host: 10 minutes). */
  processingVisibilitySeconds?: number;
  logger?: Logger;
  /**
   * Hand messages to the process's relay as src/app/components.ts wires it (mailbox throttle, refused-token
   * diagnosis, the monitor's mailbox conditions) instead of the harness's own parts; storage faults
   * and tokenRequestTimeoutMs do not apply then.
   */
  runtime?: boolean;
}

export interface Faults {
  /** Return true to make this dead-letter write fail as if storage were down. */
  deadLetterWrite?: () => boolean;
  /** Return true to make this retry-copy write fail as if storage were down. */
  retryCopyWrite?: () => boolean;
  /** Return true to lose the queue delete after the handler finished (crash, timeout, lost pop receipt). */
  loseDelete?: () => boolean;
}

export interface Reconciliation {
  accepted: number;
  delivered: number;
  deadLettered: number;
  queued: number;
  poisoned: number;
  lost: string[];
  duplicated: string[];
  /** Keys per outcome, for precise assertions. */
  deliveries: Map<string, number>;
  deadLetters: Map<string, DeadLetterRecord[]>;
  summary: string;
}

export class RelayHarness {
  readonly faults: Faults = {};
  readonly outcomes: RelayOutcome[] = [];
  readonly accepted = new Set<string>();
  readonly queue: QueueClient;
  readonly deadLetterQueue: QueueClient;
  readonly poisonQueue: QueueClient;
  readonly runner: QueueRunner;
  readonly config: RelayConfig;
  readonly sender: MailSender;
  readonly tokens?: TokenCache;
  readonly ledger: BlobDeliveryLedger;
  /** The key the relay signs its retry copies with (in the ledger container, as in production). */
  readonly envelopes: BlobEnvelopeKeys;
  /** With `runtime`: the relay the messages go to, and its parts. */
  readonly relay?: Relay;
  readonly parts?: RelayComponents;
  private readonly deps: RelayDependencies;
  private readonly logger: Logger;
  /** Index into the SMTP server's received list where this harness started. */
  private readonly receivedFrom: number;
  private readonly deadLetterRecords: DeadLetterRecord[] = [];

  constructor(
    readonly stack: LocalStack,
    options: HarnessOptions,
  ) {
    const name = options.name;
    this.logger = options.logger ?? silentLogger;
    this.config = loadConfig({
      ...stack.settings,
      RELAY_QUEUE_NAME: name,
      RELAY_DEADLETTER_QUEUE_NAME: `${name}-deadletter`,
      RELAY_DEADLETTER_CONTAINER: `${name}-deadletter`,
      RELAY_LEDGER_CONTAINER: `${name}-ledger`,
      RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
      RELAY_RETRY_MAX_DELAY_SECONDS: '0',
      ...options.settings,
    });
    const config = this.config;
    const extraCa = config.smtp.extraCa;
    const oauth = oauthOf(config.auth);
    if (options.runtime) {
      this.parts = createRelayComponents(config, this.logger);
      this.relay = relayOf(this.parts);
    }
    if (this.parts) this.tokens = this.parts.tokens;
    else if (oauth) {
      this.tokens =
        options.tokenRequestTimeoutMs === undefined
          ? createTokenProvider(oauth, { extraCa })
          : new TokenCache(
              new MicrosoftTokenSource(withSettingSecret(oauth), {
                extraCa,
                requestTimeoutMs: options.tokenRequestTimeoutMs,
              }),
              { refreshMarginMs: oauth.refreshMarginMs },
            );
    }
    const password = config.auth.kind === 'password' ? config.auth : undefined;
    this.sender = this.parts?.sender ?? createMailSender({ smtp: config.smtp, user: config.mail.user, tokens: this.tokens, password });
    const storage = createStorageClients(config.queue.connection);
    const writer = new DeadLetterWriter(storage, config.queue.deadLetterQueueName, config.queue.deadLetterContainerName);
    const ledgerContainer = storage.blobs.getContainerClient(config.queue.ledgerContainerName);
    this.ledger = new BlobDeliveryLedger(ledgerContainer, { leaseSeconds: config.queue.ledgerLeaseSeconds });
    this.envelopes = new BlobEnvelopeKeys(ledgerContainer);
    const retries = new QueueRetries(storage.queues.getQueueClient(config.queue.queueName));
    this.deps = {
      config,
      sender: this.sender,
      ledger: this.ledger,
      deadLetters: {
        write: async (input) => {
          if (this.faults.deadLetterWrite?.()) throw new Error('injected: storage unavailable (503 ServerBusy) writing the dead-letter record');
          return writer.write(input);
        },
      },
      retries: {
        policy: config.queue.retry,
        envelopes: this.envelopes,
        queue: {
          enqueue: async (text, delay) => {
            if (this.faults.retryCopyWrite?.()) throw new Error('injected: storage unavailable (503 ServerBusy) writing the retry copy');
            return retries.enqueue(text, delay);
          },
        },
      },
    };
    const connection = stack.settings.AzureWebJobsStorage;
    this.queue = new QueueClient(connection, name);
    this.deadLetterQueue = new QueueClient(connection, `${name}-deadletter`);
    this.poisonQueue = new QueueClient(connection, `${name}-poison`);
    this.runner = new QueueRunner({
      queue: this.queue,
      poisonQueue: this.poisonQueue,
      settings: {
        batchSize: 16,
        maxDequeueCount: config.queue.maxDequeueCount,
        visibilityTimeoutSeconds: 0,
        maxPollingIntervalMs: 100,
        messageEncoding: 'none',
        ...options.runner,
      },
      processingVisibilitySeconds: options.processingVisibilitySeconds,
      handler: (payload, delivery) => this.handle(payload, delivery),
      logger: this.logger,
    });
    this.receivedFrom = stack.smtpServer.received.length;
  }

  async start(): Promise<this> {
    await this.queue.createIfNotExists();
    await this.deadLetterQueue.createIfNotExists();
    await this.poisonQueue.createIfNotExists();
    return this;
  }

  /** Puts an application message on the queue, tagged with its harness key. */
  async enqueue(key: string, message: Record<string, unknown>): Promise<void> {
    const headers = { ...(message.headers as Record<string, string> | undefined), [HARNESS_HEADER]: key };
    await this.enqueueText(key, JSON.stringify({ ...message, headers }));
  }

  /** Puts raw text on the queue (hostile input); `key` names it for reconciliation. */
  async enqueueText(key: string, text: string): Promise<void> {
    // Accepted once the queue took it (a refused message was never ours to lose).
    await this.queue.sendMessage(text);
    this.accepted.add(key);
  }

  /** Runs the queue until it is empty (retry copies included) or `timeoutMs` passes; `afterBatch` sees each batch's size. */
  async drain(timeoutMs = 120_000, afterBatch?: (handled: number) => void): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const handled = await this.runner.pollOnce();
      afterBatch?.(handled);
      if (handled > 0) continue;
      if (((await this.queue.getProperties()).approximateMessagesCount ?? 0) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** What happened to every accepted message. `keyOf` maps a dead-letter record to its key (default: its original's harness header). */
  async reconcile(keyOf: (record: DeadLetterRecord) => string | undefined = harnessKeyOfRecord): Promise<Reconciliation> {
    const deliveries = new Map<string, number>();
    for (const message of this.stack.smtpServer.received.slice(this.receivedFrom)) {
      const key = headerValue(message.raw, HARNESS_HEADER);
      if (key !== undefined && this.accepted.has(key)) deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
    }
    this.deadLetterRecords.push(...(await drainRecords(this.deadLetterQueue, this.stack.settings.AzureWebJobsStorage)));
    const deadLetters = new Map<string, DeadLetterRecord[]>();
    for (const record of this.deadLetterRecords) {
      const key = keyOf(record);
      if (key !== undefined) deadLetters.set(key, [...(deadLetters.get(key) ?? []), record]);
    }
    const queued = (await this.queue.getProperties()).approximateMessagesCount ?? 0;
    const poisoned = (await this.poisonQueue.getProperties()).approximateMessagesCount ?? 0;
    const lost: string[] = [];
    const duplicated: string[] = [];
    let delivered = 0;
    let deadLettered = 0;
    for (const key of this.accepted) {
      const sent = deliveries.get(key) ?? 0;
      const records = deadLetters.get(key)?.length ?? 0;
      if (sent + records > 1) duplicated.push(key);
      if (sent === 1 && records === 0) delivered++;
      if (sent === 0 && records === 1) deadLettered++;
      if (sent === 0 && records === 0) lost.push(key);
    }
    // Still queued is not lost; with an empty queue every missing message is.
    const missing = queued > 0 ? [] : lost;
    const summary =
      `reconciliation: ${this.accepted.size} accepted, ${delivered} delivered, ${deadLettered} dead-lettered, ${queued} queued, ` +
      `${poisoned} poisoned, ${missing.length} lost, ${duplicated.length} duplicated`;
    return { accepted: this.accepted.size, delivered, deadLettered, queued, poisoned, lost: missing, duplicated, deliveries, deadLetters, summary };
  }

  async close(): Promise<void> {
    this.sender.close();
  }

  /** Hands a payload to the relay as the host would, for messages no queue could hold (over 64 KiB). */
  async handleDirect(key: string, payload: unknown): Promise<RelayOutcome> {
    this.accepted.add(key);
    return this.handle(payload, { dequeueCount: 1, queueMessageId: `direct-${key}`, insertionTime: new Date().toISOString() });
  }

  private async handle(payload: unknown, delivery: Parameters<typeof relayQueueMessage>[1]): Promise<RelayOutcome> {
    const outcome = this.relay
      ? await this.relay.handleQueueMessage(payload, delivery, this.logger)
      : await relayQueueMessage(payload, delivery, this.deps, this.logger);
    this.outcomes.push(outcome);
    // After the relay finished, the delete is lost (the host crashed, timed out or lost the pop receipt):
    // the runner makes the message visible again, as the host would after its invisibility ends.
    if (delivery.dequeueCount < this.config.queue.maxDequeueCount - 1 && this.faults.loseDelete?.()) {
      throw new Error('injected: queue message not deleted');
    }
    return outcome;
  }
}

/** Reads every record off a dead-letter queue (and its blob when the record overflowed). */
async function drainRecords(queue: QueueClient, connection: string): Promise<DeadLetterRecord[]> {
  const records: DeadLetterRecord[] = [];
  const blobs = BlobServiceClient.fromConnectionString(connection);
  for (;;) {
    const batch = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 3600 });
    if (batch.receivedMessageItems.length === 0) return records;
    for (const item of batch.receivedMessageItems) {
      let record = JSON.parse(item.messageText) as DeadLetterRecord;
      if (record.recordBlob) {
        const [container, ...rest] = record.recordBlob.split('/');
        const text = (await blobs.getContainerClient(container!).getBlockBlobClient(rest.join('/')).downloadToBuffer()).toString('utf8');
        record = { ...(JSON.parse(text) as DeadLetterRecord), recordBlob: record.recordBlob };
      }
      records.push(record);
      await queue.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}

/** The harness key inside a dead-letter record's original message. */
export function harnessKeyOfRecord(record: DeadLetterRecord): string | undefined {
  try {
    const original = JSON.parse(record.original ?? '') as { headers?: Record<string, string> };
    return original.headers?.[HARNESS_HEADER];
  } catch {
    return undefined;
  }
}

/** A header's value in a raw message (unfolded), or undefined. */
export function headerValue(raw: Buffer, name: string): string | undefined {
  const head = raw.toString('utf8').split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  return match?.[1]?.trim();
}

/** The Microsoft token settings with OAUTH2_CLIENT_SECRET's value, for a token source built by hand. */
function withSettingSecret(oauth: OAuthSettings): ConstructorParameters<typeof MicrosoftTokenSource>[0] {
  if (oauth.kind !== 'clientSecret' || oauth.provider !== 'microsoft' || oauth.source.kind !== 'setting') {
    throw new Error('tokenRequestTimeoutMs needs Microsoft settings with OAUTH2_CLIENT_SECRET');
  }
  return { ...oauth, clientSecret: oauth.source.clientSecret };
}
