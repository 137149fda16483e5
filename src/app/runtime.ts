/**
 * Process-wide wiring: the configuration is read once, and the token cache,
 * the SMTP pool and the storage clients are created once and shared by every
 * invocation on this instance (a Functions worker runs many invocations in
 * one process). Entry points (functions/, the local runner) call `getRelay()`.
 */
import { ConfigError, loadConfig, type RelayConfig } from '../settings';
import { createTokenProvider, type AssertionProvider, type TokenCache } from '../token';
import { createSecretProvider, type ClientSecretProvider } from '../secrets';
import type { TokenCredential } from '@azure/identity';
import { createMailSender, type MailSender } from '../smtp';
import { createStorageClients, type StorageClients } from '../transport/storage';
import { MailboxThrottle } from '../throttle/mailboxThrottle';
import { throttledSender } from '../throttle/throttledSender';
import { ConcurrencyGate } from '../throttle/concurrencyGate';
import { DeadLetterWriter } from '../delivery/deadLetters';
import { BlobDeliveryLedger } from '../delivery/ledger';
import { QueueRetries } from '../delivery/retryQueue';
import { BlobEnvelopeKeys } from '../delivery/envelopeKey';
import { AttachmentBlobs } from '../delivery/attachmentBlobs';
import { processLogger, type Logger } from '../core/log';
import { newDeliveryCounters, type DeliveryCounters } from '../core/metrics';
import { redactingLogger } from '../core/redact';
import { relayQueueMessage, type RelayOutcome } from '../relay/handler';
import type { QueueDelivery } from '../delivery/ports';
import { createSecretMonitor, type SecretMonitor } from '../monitor';
import { handleWhileMisconfigured } from '../relay/misconfiguration';
import { judgementOf } from '../token/claims';
import { MailboxConditions } from '../monitor/mailboxConditions';

export interface Relay {
  readonly config: RelayConfig;
  readonly sender: MailSender;
  readonly deadLetters: DeadLetterWriter;
  /** The process's token cache (OAuth2 only) and client secret source (absent with federation). */
  readonly tokens?: TokenCache;
  readonly secrets?: ClientSecretProvider;
  readonly storage: StorageClients;
  /** Claim-check attachments of the attachment container, for the queue handler and /api/send alike. */
  readonly attachments: AttachmentBlobs;
  /** Conditions of the mailbox met while sending (full, daily quota), for the monitor's alerts. */
  readonly mailboxConditions: MailboxConditions;
  /** What this instance has done since it started (health output). */
  activity(): RelayActivity;
  handleQueueMessage(payload: unknown, delivery: QueueDelivery, logger: Logger): Promise<RelayOutcome>;
  close(): Promise<void>;
}

export interface RelayActivity extends DeliveryCounters {
  /** Sends held back by the mailbox throttle, and handed back to the queue because the wait was too long. */
  throttleWaits: number;
  throttleDeferrals: number;
  /** Milliseconds until sending resumes after a throttling reply (0 when not paused). */
  pausedForMs: number;
  tokenRequests: number;
  smtpConnectionsOpened: number;
}

/** Tests and the local run: stand-ins for the managed identity. */
export interface RelayIdentityOverrides {
  vaultCredential?: TokenCredential;
  assertions?: AssertionProvider;
}

export function createRelay(config: RelayConfig, logger: Logger, identity: RelayIdentityOverrides = {}): Relay {
  const extraCa = config.smtp.extraCa;
  const secrets = config.oauth ? createSecretProvider(config.oauth, { extraCa, logger, vaultCredential: identity.vaultCredential }) : undefined;
  const tokens = config.oauth ? createTokenProvider(config.oauth, { extraCa, logger, secrets, assertions: identity.assertions }) : undefined;
  // One pool and one throttle for the mailbox on this instance, shared by every invocation.
  const throttle = new MailboxThrottle({
    messagesPerWindow: config.smtp.rateLimitPerMinute,
    windowMs: 60_000,
    maxWaitMs: config.smtp.rateLimitMaxWaitMs,
    backoffMs: config.smtp.throttleBackoffMs,
  });
  const mailboxConditions = new MailboxConditions();
  const sender = throttledSender(
    createMailSender({ smtp: config.smtp, user: config.mail.user, tokens, password: config.password, tokenSettings: config.oauth && judgementOf(config.oauth), logger }),
    throttle,
    mailboxConditions,
  );
  const counters = newDeliveryCounters();
  // As many messages fetch attachments and send at once as the pool has connections.
  const sendSlots = new ConcurrencyGate(config.smtp.poolSize);
  const storage = createStorageClients(config.queue.connection);
  const deadLetters = new DeadLetterWriter(storage, config.queue.deadLetterQueueName, config.queue.deadLetterContainerName);
  const ledgerContainer = storage.blobs.getContainerClient(config.queue.ledgerContainerName);
  const ledger = new BlobDeliveryLedger(ledgerContainer, { leaseSeconds: config.queue.ledgerLeaseSeconds });
  const retries = {
    queue: new QueueRetries(storage.queues.getQueueClient(config.queue.queueName)),
    policy: config.queue.retry,
    envelopes: new BlobEnvelopeKeys(ledgerContainer),
  };
  const attachments = new AttachmentBlobs(storage.blobs.getContainerClient(config.queue.attachmentContainerName), config.queue.maxAttachmentBytes);
  return {
    config,
    sender,
    deadLetters,
    tokens,
    secrets,
    storage,
    attachments,
    mailboxConditions,
    activity: () => ({
      ...counters,
      throttleWaits: throttle.stats.waited,
      throttleDeferrals: throttle.stats.deferred,
      pausedForMs: throttle.pausedForMs(),
      tokenRequests: tokens?.stats.fetches ?? 0,
      smtpConnectionsOpened: sender.stats.connectionsOpened,
    }),
    handleQueueMessage: (payload, delivery, invocationLogger) =>
      relayQueueMessage(payload, delivery, { config, sender, deadLetters, ledger, retries, attachments, counters, sendSlots }, invocationLogger),
    async close() {
      sender.close();
    },
  };
}

let shared: Relay | undefined;

/**
 * The relay of this process, built on first use from the app settings and shared
 * by every invocation. Throws a ConfigError naming every bad setting.
 */
export function getRelay(): Relay {
  shared ??= createRelay(loadConfig(), redactingLogger(processLogger));
  return shared;
}

/**
 * The queue function's work: the process's relay handles the message; while the settings
 * are invalid it is held, or left to the host, with the reason (src/relay/misconfiguration.ts).
 */
export async function handleQueueEntry(payload: unknown, delivery: QueueDelivery, logger: Logger): Promise<RelayOutcome> {
  let relay: Relay;
  try {
    relay = getRelay();
  } catch (error) {
    if (error instanceof ConfigError) return handleWhileMisconfigured(payload, delivery, error, logger);
    throw error;
  }
  return relay.handleQueueMessage(payload, delivery, logger);
}

let sharedMonitor: SecretMonitor | undefined;

/** The secret monitor of this process, over the shared relay (src/monitor). */
export function getSecretMonitor(): SecretMonitor {
  sharedMonitor ??= createSecretMonitor(getRelay());
  return sharedMonitor;
}
