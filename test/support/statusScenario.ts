/**
 * Messages in each state the ledger knows, on the local stack, for the status
 * tests (HTTP and command line): one delivered, one dead-lettered by the SMTP
 * server (every recipient refused), one waiting for its retry after a 451, and
 * one refused before it was read (a From not allowed; it carries an `id`, but
 * the relay cannot trust an id it has not read, so only its queue message id
 * finds it).
 */
import type { LocalStack } from '../../local/stack';
import { RelayHarness } from './relayHarness';

export const SCENARIO_IDS = { delivered: 'status-ok-1', deadLettered: 'status-bad-1', retrying: 'status-later-1', refused: 'status-from-1' } as const;
export const SUBJECT = 'Quarterly figures: confidential';
export const BODY = 'the body nobody but the recipient may read';
export const REFUSED_RECIPIENT = 'gone.away@example.net';

export interface StatusScenario {
  harness: RelayHarness;
  /** The queue message id the queue returned for the refused message. */
  refusedQueueMessageId: string;
  settings: Record<string, string>;
}

export async function runStatusScenario(stack: LocalStack, name: string): Promise<StatusScenario> {
  const settings = {
    RELAY_QUEUE_NAME: name,
    RELAY_DEADLETTER_QUEUE_NAME: `${name}-deadletter`,
    RELAY_DEADLETTER_CONTAINER: `${name}-deadletter`,
    RELAY_LEDGER_CONTAINER: `${name}-ledger`,
    // The retry copy stays invisible for the whole test: the message is still "retry" when asked about.
    RELAY_RETRY_FIRST_DELAY_SECONDS: '3600',
    RELAY_RETRY_MAX_DELAY_SECONDS: '3600',
  };
  const harness = await new RelayHarness(stack, { name, settings }).start();
  const step = async () => {
    while ((await harness.runner.pollOnce()) > 0);
  };

  stack.smtpServer.failNext('mail', { code: 451, message: '4.3.2 Temporary server error. Please try again later' });
  await harness.enqueue('later', { id: SCENARIO_IDS.retrying, to: 'later@example.net', subject: SUBJECT, text: BODY });
  await step();

  await harness.enqueue('ok', { id: SCENARIO_IDS.delivered, to: 'reader@example.net', subject: SUBJECT, text: BODY });
  await step();

  stack.smtpServer.rejectRecipient(REFUSED_RECIPIENT, {
    code: 550,
    message: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
  });
  await harness.enqueue('bad', { id: SCENARIO_IDS.deadLettered, to: REFUSED_RECIPIENT, subject: SUBJECT, text: BODY });
  await step();

  const refused = await harness.queue.sendMessage(
    JSON.stringify({ id: SCENARIO_IDS.refused, from: 'ceo@elsewhere.example', to: 'x@example.net', subject: SUBJECT, text: BODY }),
  );
  harness.accepted.add('from');
  await step();
  return { harness, refusedQueueMessageId: refused.messageId, settings };
}
