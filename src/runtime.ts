/**
 * Process-wide wiring: the configuration is read once, and the token cache,
 * the SMTP pool and the storage clients are created once and shared by every
 * invocation on this instance (a Functions worker runs many invocations in
 * one process). Entry points (functions/, the local runner) call `getRelay()`.
 */
import { loadConfig, type RelayConfig } from './config';
import { createTokenProvider } from './token';
import { createMailSender, type MailSender } from './smtp';
import { createStorageClients } from './storage';
import { MailboxThrottle } from './throttle/mailboxThrottle';
import { throttledSender } from './throttle/throttledSender';
import { DeadLetterWriter } from './deadLetter';
import { BlobDeliveryLedger } from './delivery/ledger';
import { QueueRetries } from './delivery/retryQueue';
import { processLogger, type Logger } from './log';
import { redactingLogger } from './redact';
import { relayQueueMessage, type QueueDelivery, type RelayOutcome } from './relay';

export interface Relay {
  readonly config: RelayConfig;
  readonly sender: MailSender;
  readonly deadLetters: DeadLetterWriter;
  handleQueueMessage(payload: unknown, delivery: QueueDelivery, logger: Logger): Promise<RelayOutcome>;
  close(): Promise<void>;
}

export function createRelay(config: RelayConfig, logger: Logger): Relay {
  const tokens = config.oauth ? createTokenProvider(config.oauth, { extraCa: config.smtp.extraCa, logger }) : undefined;
  // One pool and one throttle for the mailbox on this instance, shared by every invocation.
  const sender = throttledSender(
    createMailSender({ smtp: config.smtp, user: config.mail.user, tokens, password: config.password, logger }),
    new MailboxThrottle({
      messagesPerWindow: config.smtp.rateLimitPerMinute,
      windowMs: 60_000,
      maxWaitMs: config.smtp.rateLimitMaxWaitMs,
      backoffMs: config.smtp.throttleBackoffMs,
    }),
  );
  const storage = createStorageClients(config.queue.connection);
  const deadLetters = new DeadLetterWriter(storage, config.queue.deadLetterQueueName, config.queue.deadLetterContainerName);
  const ledger = new BlobDeliveryLedger(storage.blobs.getContainerClient(config.queue.ledgerContainerName), {
    leaseSeconds: config.queue.ledgerLeaseSeconds,
  });
  const retries = { queue: new QueueRetries(storage.queues.getQueueClient(config.queue.queueName)), policy: config.queue.retry };
  return {
    config,
    sender,
    deadLetters,
    handleQueueMessage: (payload, delivery, invocationLogger) =>
      relayQueueMessage(payload, delivery, { config, sender, deadLetters, ledger, retries }, invocationLogger),
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
