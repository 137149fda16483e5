/**
 * The relay as entry points see it (functions/, the local runner, the benchmark):
 * its settings, the queue handler, what this instance has done, and close.
 * Its parts stay in the composition root (components.ts).
 */
import type { RelayConfig } from '../settings';
import type { Logger } from '../core/log';
import type { DeliveryCounters } from '../core/metrics';
import { redactingLogger } from '../core/redact';
import type { QueueDelivery } from '../delivery/ports';
import { relayQueueMessage, type RelayDependencies, type RelayOutcome, type SenderDirectory } from '../relay/handler';
import { createRelayComponents, type RelayComponents, type RelayIdentityOverrides, type SenderParts } from './components';

export type QueueMessageHandler = (payload: unknown, delivery: QueueDelivery, logger: Logger) => Promise<RelayOutcome>;

export interface Relay {
  readonly config: RelayConfig;
  /** What this instance has done since it started (health output). */
  activity(): RelayActivity;
  /** One delivery of a queue message; `logger` is the invocation's (wrapped in redaction here). */
  handleQueueMessage: QueueMessageHandler;
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
  /** With RELAY_SENDERS: each sender's own activity, by id (senders not used yet are absent). */
  senders?: Record<string, SenderActivity>;
}

/** One sender's share of the activity. */
export type SenderActivity = Omit<RelayActivity, 'senders'>;

/**
 * The queue handler over `deps`, logging through redaction: whoever calls it cannot
 * forget to redact (the handler itself logs what it is given).
 */
export function queueHandler(deps: RelayDependencies): QueueMessageHandler {
  return (payload, delivery, logger) => relayQueueMessage(payload, delivery, deps, redactingLogger(logger));
}

export function relayOf(parts: RelayComponents): Relay {
  const { config, sender, deadLetters, ledger, retries, attachments, counters, sendSlots, throttle, tokens, senders } = parts;
  return {
    config,
    activity: () => {
      const activity: RelayActivity = {
        ...counters,
        throttleWaits: throttle.stats.waited,
        throttleDeferrals: throttle.stats.deferred,
        pausedForMs: throttle.pausedForMs(),
        tokenRequests: tokens?.stats.fetches ?? 0,
        smtpConnectionsOpened: sender.stats.connectionsOpened,
      };
      if (senders.list.length > 1) activity.senders = Object.fromEntries(senders.built().map((one) => [one.id, senderActivity(one)]));
      return activity;
    },
    handleQueueMessage: queueHandler({ config, sender, deadLetters, ledger, retries, attachments, counters, sendSlots, senders: senderDirectory(senders) }),
    async close() {
      for (const one of senders.built()) one.sender.close();
    },
  };
}

function senderActivity(one: ReturnType<SenderParts['get']>): SenderActivity {
  return {
    ...one.counters,
    throttleWaits: one.throttle.stats.waited,
    throttleDeferrals: one.throttle.stats.deferred,
    pausedForMs: one.throttle.pausedForMs(),
    tokenRequests: one.tokens?.stats.fetches ?? 0,
    smtpConnectionsOpened: one.sender.stats.connectionsOpened,
  };
}

/** The handler's view of the senders: their From policies for routing, and each one's parts on first use. */
export function senderDirectory(senders: SenderParts): SenderDirectory {
  return {
    routing: { senders: senders.list.map((one) => ({ id: one.id, ...one.mail })), defaultId: senders.list[0]!.id },
    route(id) {
      const one = senders.get(id);
      return { id, mail: one.settings.mail, sender: one.sender, sendSlots: one.sendSlots, counters: one.counters };
    },
  };
}

export function createRelay(config: RelayConfig, logger: Logger, identity: RelayIdentityOverrides = {}): Relay {
  return relayOf(createRelayComponents(config, logger, identity));
}
