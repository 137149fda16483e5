// First: telemetry must start before the modules it instruments load.
import './lib/telemetry';
import { app, type InvocationContext } from '@azure/functions';
import { handleQueueEntry } from '../src/app/runtime';
import { contextLogger, queueDelivery } from './lib/invocation';

/**
 * Queue trigger: one queued e-mail message relayed over SMTP (see src/relay/handler.ts for the outcomes;
 * src/relay/misconfiguration.ts for what happens while the settings are invalid).
 */
export async function relayOutboundMail(queueEntry: unknown, context: InvocationContext): Promise<void> {
  await handleQueueEntry(queueEntry, queueDelivery(context), contextLogger(context));
}

app.storageQueue('relayOutboundMail', {
  queueName: '%RELAY_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: relayOutboundMail,
});
