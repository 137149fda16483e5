/**
 * What the queue function does with a message while the relay's own settings are
 * invalid (building the relay throws a ConfigError). No message vanishes, and none
 * ends without a reason:
 *
 * - the storage settings are readable (say the client ID or the SMTP host is wrong):
 *   the message is held with retry copies on its queue, with the usual growing delay,
 *   and goes out by itself once the settings are fixed; at its maximum age it is
 *   dead-lettered with `configuration_invalid` and the list of problems (replay).
 * - even the storage settings are wrong: nothing can be written, so the function
 *   throws; the host retries the message and then moves it to `<queue>-poison`
 *   (`oauth2-smtp-relay replay --from-poison` takes it back after the fix).
 *
 * Either way `relay.config_invalid` is logged with every problem, at most once a
 * minute per instance rather than once per message.
 */
import { ConfigError, loadQueueConfig, type Environment, type QueueSettings } from '../settings';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import type { Logger } from '../core/log';
import type { DeadLetterSink, QueueDelivery, RetryQueue } from '../delivery/ports';
import type { EnvelopeKeys } from '../delivery/envelopeKey';
import { holdUnread, RetryLaterError, type RelayOutcome } from './handler';

/** How often relay.config_invalid is logged while the settings stay invalid. */
export const CONFIG_INVALID_LOG_INTERVAL_MS = 60_000;

let lastLoggedAt: number | undefined;

export interface MisconfigurationOptions {
  env?: Environment;
  now?: () => number;
}

/** Where a held message goes, on the storage of readable queue settings (src/app/holding.ts builds them). */
export interface HoldingParts {
  deadLetters: DeadLetterSink;
  /** The relay's own queue, for the retry copies. */
  retryQueue: RetryQueue;
  /** Signs the retry copies (the key in the ledger container). */
  envelopes: EnvelopeKeys;
}

/** `logger` is expected to redact (src/app wraps it). */
export async function handleWhileMisconfigured(
  payload: unknown,
  delivery: QueueDelivery,
  invalid: ConfigError,
  logger: Logger,
  holding: (queue: QueueSettings) => HoldingParts,
  options: MisconfigurationOptions = {},
): Promise<RelayOutcome> {
  const env = options.env ?? process.env;
  let queue: QueueSettings | undefined;
  try {
    queue = loadQueueConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  const poisonQueue = `${env.RELAY_QUEUE_NAME?.trim() || 'outbound-mail'}-poison`;
  const failure = configurationInvalid(invalid, queue ? undefined : poisonQueue);
  logAtMostOnceAMinute(invalid, queue ? undefined : poisonQueue, logger, options.now ?? Date.now);
  // Nothing can be written: the host's retries and its poison queue are the only place left.
  if (!queue) throw new RetryLaterError(failure, delivery.dequeueCount);

  const parts = holding(queue);
  return holdUnread(
    payload,
    delivery,
    failure,
    { config: { queue }, deadLetters: parts.deadLetters, retries: { queue: parts.retryQueue, policy: queue.retry, envelopes: parts.envelopes } },
    logger,
  );
}

/** `poisonQueue` is set when even the storage settings are wrong (the message is left to the host). */
function configurationInvalid(invalid: ConfigError, poisonQueue: string | undefined): RelayError {
  const count = invalid.problems.length === 1 ? '1 problem' : `${invalid.problems.length} problems`;
  const problems = invalid.problems.map((item) => `${item.setting}: ${item.problem}`).join('; ');
  return new RelayError(`The relay's settings are invalid, so the message was not read (${count}): ${problems}`, {
    reason: 'configuration_invalid',
    kind: 'configuration',
    ...(poisonQueue ? advice('settings_invalid_unstored', { poisonQueue }) : advice('settings_invalid_held')),
  });
}

function logAtMostOnceAMinute(invalid: ConfigError, poisonQueue: string | undefined, logger: Logger, now: () => number): void {
  const at = now();
  if (lastLoggedAt !== undefined && at - lastLoggedAt < CONFIG_INVALID_LOG_INTERVAL_MS) return;
  lastLoggedAt = at;
  logger.error('the relay settings are invalid: no mail is sent until they are fixed', {
    event: 'relay.config_invalid',
    problems: invalid.problems.map((item) => `${item.setting}: ${item.problem}`),
    messages: poisonQueue
      ? `left to the host (the storage settings are wrong too): retried, then moved to ${poisonQueue}`
      : 'held with retry copies on the queue; dead-lettered with configuration_invalid at their maximum age',
  });
}
