/**
 * The composition root's object graph: everything one process builds from its
 * settings, each object once. The secret source and its Key Vault client, the
 * token cache, the mail sender behind the mailbox throttle, the storage clients
 * and what is built on them (dead letters, the delivery ledger, retry copies
 * with their signing key, attachment blobs).
 *
 * Only src/app sees this graph; it hands narrow views of it up: the queue
 * handler (relay.ts), the monitor (monitor.ts), the checks (diagnostics.ts),
 * /api/send (http.ts), replay (replay.ts). No other module constructs a
 * SecretClient, storage clients or a ledger, and the logger given here is
 * wrapped in redaction before anything logs through it.
 */
import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { ContainerClient } from '@azure/storage-blob';
import {
  DEFAULT_SENDER_ID,
  graphOAuth,
  keyVaultOf,
  oauthOf,
  sendersOf,
  transportOf,
  type RelayConfig,
  type SenderSettings,
  type TransportKind,
} from '../settings';
import type { Logger } from '../core/log';
import { newDeliveryCounters, type DeliveryCounters } from '../core/metrics';
import { redactingLogger } from '../core/redact';
import { createStorageClients, type StorageClients } from '../transport/storage';
import { createSecretClient, createSecretProvider, createVaultCredential, type ClientSecretProvider } from '../secrets';
import { createTokenProvider, type AssertionProvider, type TokenCache } from '../token';
import { judgementOf } from '../token/claims';
import { createMailSender, type MailSender } from '../smtp';
import { createGraphMailSender } from '../graph';
import { fallbackSender } from '../throttle/fallbackSender';
import { mailboxKey } from '../throttle/mailboxKey';
import { MailboxThrottle } from '../throttle/mailboxThrottle';
import { throttledSender } from '../throttle/throttledSender';
import { ConcurrencyGate } from '../throttle/concurrencyGate';
import { appLimitedSender } from '../throttle/coordinatedSender';
import type { CoordinationStats } from '../throttle/sendingWindow';
import { DeadLetterWriter } from '../delivery/deadLetters';
import { BlobDeliveryLedger } from '../delivery/ledger';
import { QueueRetries } from '../delivery/retryQueue';
import { BlobEnvelopeKeys } from '../delivery/envelopeKey';
import { AttachmentBlobs } from '../delivery/attachmentBlobs';
import type { RetryPolicy } from '../delivery/backoff';
import { MailboxConditions } from '../monitor/mailboxConditions';

/** Tests and the local run: stand-ins for the managed identity. */
export interface RelayIdentityOverrides {
  /** Signs in to Key Vault (reading the secret, and writing new versions when rotating). */
  vaultCredential?: TokenCredential;
  assertions?: AssertionProvider;
}

/**
 * One sender's parts (the default one's, or a RELAY_SENDERS entry's): its own secret source,
 * token cache, SMTP pool behind its own throttle, mailbox conditions and counters, so a
 * sender whose token endpoint or SMTP server fails holds no other sender back.
 */
export interface SenderComponents {
  readonly id: string;
  readonly settings: SenderSettings;
  /** The Key Vault client when the credential is kept there: the secret source reads with it, rotation writes with it. */
  readonly vault?: SecretClient;
  /** Where the client secret comes from; absent with federation or without OAuth2. */
  readonly secrets?: ClientSecretProvider;
  /** The sender's token cache (OAuth2 only): the SMTP token. */
  readonly tokens?: TokenCache;
  /** How the sender hands messages over (RELAY_TRANSPORT, or the entry's transport). */
  readonly transport: TransportKind;
  /** graph and smtp-then-graph: the sender's Microsoft Graph token cache (scope <GRAPH_URL>/.default), apart from the SMTP one. */
  readonly graphTokens?: TokenCache;
  readonly throttle: MailboxThrottle;
  /** Conditions of the mailbox met while sending (full, daily quota), for the monitor's alerts. */
  readonly mailboxConditions: MailboxConditions;
  /** The sender's SMTP pool or Graph sender (smtp-then-graph: both), behind the mailbox throttle. */
  readonly sender: MailSender;
  /** RELAY_LIMITS_SCOPE=app: the storage requests made to hold this mailbox's limits across instances. */
  readonly coordination?: CoordinationStats;
  /** As many messages fetch attachments and send at once as the pool has connections. */
  readonly sendSlots: ConcurrencyGate;
  readonly counters: DeliveryCounters;
}

/** Every sender of the configuration, each one's parts built on first use, once. */
export interface SenderParts {
  /** The senders' settings, the default one first. */
  readonly list: readonly SenderSettings[];
  /** The sender's parts (built now if they were not yet); throws for an id the settings do not know. */
  get(id: string): SenderComponents;
  /** The senders built so far. */
  built(): SenderComponents[];
}

/** The process's graph; the sender fields it shares with SenderComponents are the default sender's. */
export interface RelayComponents extends Pick<
  SenderComponents,
  'vault' | 'secrets' | 'tokens' | 'throttle' | 'mailboxConditions' | 'sender' | 'coordination' | 'sendSlots'
> {
  readonly config: RelayConfig;
  /** The process's logger, redacting. */
  readonly logger: Logger;
  /** The process's delivery counters (the health answer, the benchmark). */
  readonly counters: DeliveryCounters;
  readonly storage: StorageClients;
  readonly deadLetters: DeadLetterWriter;
  readonly ledger: BlobDeliveryLedger;
  readonly retries: { queue: QueueRetries; policy: RetryPolicy; envelopes: BlobEnvelopeKeys };
  /** Claim-check attachments of the attachment container, for the queue handler and /api/send alike. */
  readonly attachments: AttachmentBlobs;
  /** Every sender; the shared sender fields above are the default sender's. */
  readonly senders: SenderParts;
}

export function createRelayComponents(config: RelayConfig, processLogger: Logger, identity: RelayIdentityOverrides = {}): RelayComponents {
  const logger = redactingLogger(processLogger);
  const storage = createStorageClients(config.queue.connection);
  // One coordination container for every sender: each mailbox's slots and window have blobs of their own.
  const coordination = storage.blobs.getContainerClient(config.queue.coordinationContainerName);
  const list = sendersOf(config);
  const built = new Map<string, SenderComponents>();
  const senders: SenderParts = {
    list,
    get(id) {
      let parts = built.get(id);
      if (parts) return parts;
      const settings = list.find((sender) => sender.id === id);
      if (!settings) throw new Error(`no sender ${JSON.stringify(id)} in the settings`);
      parts = createSenderComponents(settings, logger, identity, coordination);
      built.set(id, parts);
      return parts;
    },
    built: () => [...built.values()],
  };
  const defaultSender = senders.get(DEFAULT_SENDER_ID);
  const { vault, secrets, tokens, throttle, mailboxConditions, sender, sendSlots } = defaultSender;
  const ledgerContainer = storage.blobs.getContainerClient(config.queue.ledgerContainerName);
  return {
    config,
    logger,
    vault,
    secrets,
    tokens,
    throttle,
    mailboxConditions,
    sender,
    coordination: defaultSender.coordination,
    counters: newDeliveryCounters(),
    sendSlots,
    senders,
    storage,
    deadLetters: new DeadLetterWriter(storage, config.queue.deadLetterQueueName, config.queue.deadLetterContainerName),
    ledger: new BlobDeliveryLedger(ledgerContainer, { leaseSeconds: config.queue.ledgerLeaseSeconds }),
    retries: {
      queue: new QueueRetries(storage.queues.getQueueClient(config.queue.queueName)),
      policy: config.queue.retry,
      envelopes: new BlobEnvelopeKeys(ledgerContainer),
    },
    attachments: new AttachmentBlobs(storage.blobs.getContainerClient(config.queue.attachmentContainerName), config.queue.maxAttachmentBytes),
  };
}

/** One sender's parts, from its settings alone. */
export function createSenderComponents(
  settings: SenderSettings,
  logger: Logger,
  identity: RelayIdentityOverrides = {},
  coordinationContainer?: ContainerClient,
): SenderComponents {
  const { smtp, auth, mail } = settings;
  const extraCa = smtp.extraCa;
  const oauth = oauthOf(auth);
  const password = auth.kind === 'password' ? auth : undefined;
  const keyVault = keyVaultOf(auth);
  const vault = keyVault
    ? createSecretClient(keyVault, identity.vaultCredential ?? createVaultCredential(keyVault.managedIdentityClientId), { extraCa })
    : undefined;
  const secrets = oauth ? createSecretProvider(oauth, { logger, vault }) : undefined;
  const tokens = oauth ? createTokenProvider(oauth, { extraCa, logger, secrets, assertions: identity.assertions }) : undefined;
  // The mailbox's limits for the whole app (connection slots and a shared window in the coordination
  // container), or for this instance alone; either way one throttle per sender and process pauses after a
  // throttling reply.
  const appLimits = smtp.limitsScope === 'app' && coordinationContainer !== undefined;
  const throttle = new MailboxThrottle({
    messagesPerWindow: appLimits ? 0 : smtp.rateLimitPerMinute,
    windowMs: smtp.rateLimitWindowMs,
    maxWaitMs: smtp.rateLimitMaxWaitMs,
    backoffMs: smtp.throttleBackoffMs,
  });
  const mailboxConditions = new MailboxConditions();
  const transport = transportOf(settings);
  const graph = settings.transport?.graph;
  const graphTokens =
    transport !== 'smtp' && oauth && graph
      ? createTokenProvider(graphOAuth(oauth, graph), { extraCa, logger, secrets, assertions: identity.assertions })
      : undefined;
  const senderOptions = { smtp, user: mail.user, tokens, password, tokenSettings: oauth && judgementOf(oauth), logger };
  const smtpSender = (): MailSender & { coordination?: CoordinationStats } =>
    appLimits
      ? appLimitedSender({
          container: coordinationContainer,
          smtp,
          user: mail.user,
          openLane: () => createMailSender({ ...senderOptions, smtp: { ...smtp, poolSize: 1 } }),
          // A token failure then fails the send before it is counted; the pool's own call is served from the cache.
          prepare: tokens ? () => tokens.getToken() : undefined,
          logger,
        })
      : createMailSender(senderOptions);
  const graphSender = (): MailSender & { coordination?: CoordinationStats } => {
    if (!graph || !graphTokens) throw new Error(`sender ${settings.id}: the ${transport} transport needs OAuth2 with Microsoft Entra ID`);
    const open = () => createGraphMailSender({ graph, mailbox: mail.user, tokens: graphTokens, extraCa, logger });
    // The app-wide limits hold for Graph too: its own slots (4 concurrent requests), the mailbox's window.
    return appLimits
      ? appLimitedSender({
          container: coordinationContainer,
          smtp: { ...smtp, poolSize: graph.concurrency },
          user: mail.user,
          slotsKey: `${mailboxKey(smtp.host, mail.user)}-graph`,
          openLane: open,
          prepare: () => graphTokens.getToken(),
          logger,
        })
      : open();
  };
  let chosen: MailSender & { coordination?: CoordinationStats };
  if (transport === 'graph') chosen = graphSender();
  else if (transport === 'smtp-then-graph') {
    const primary = smtpSender();
    chosen = Object.assign(fallbackSender({ primary, fallback: graphSender(), senderId: settings.id, logger }), { coordination: primary.coordination });
  } else chosen = smtpSender();
  const sender = throttledSender(chosen, throttle, mailboxConditions);
  return {
    id: settings.id,
    settings,
    vault,
    secrets,
    tokens,
    transport,
    graphTokens,
    throttle,
    mailboxConditions,
    sender,
    coordination: chosen.coordination,
    sendSlots: new ConcurrencyGate(transport === 'graph' && graph ? graph.concurrency : smtp.poolSize),
    counters: newDeliveryCounters(),
  };
}
