import { app, type InvocationContext } from '@azure/functions';
import { getRelay } from '../src/runtime';
import { contextLogger, queueDelivery } from './lib/invocation';

/** Queue trigger: one queued e-mail message relayed over SMTP (see src/relay.ts for the outcomes). */
export async function relayOutboundMail(queueEntry: unknown, context: InvocationContext): Promise<void> {
  const logger = contextLogger(context);
  await getRelay().handleQueueMessage(queueEntry, queueDelivery(context), logger);
}

app.storageQueue('relayOutboundMail', {
  queueName: '%RELAY_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: relayOutboundMail,
});
