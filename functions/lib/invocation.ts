/** Adapters from the Functions host's InvocationContext to the relay's plain interfaces. */
import type { InvocationContext } from '@azure/functions';
import type { Logger } from '../../src/core/log';
import type { QueueDelivery } from '../../src/delivery/ports';

export function contextLogger(context: InvocationContext): Logger {
  // One line per event: the message, then its fields as JSON (searchable in Application Insights).
  const line = (message: string, props?: Record<string, unknown>) => (props ? `${message} ${JSON.stringify(props)}` : message);
  return {
    info: (message, props) => context.info(line(message, props)),
    warn: (message, props) => context.warn(line(message, props)),
    error: (message, props) => context.error(line(message, props)),
  };
}

export function queueDelivery(context: InvocationContext): QueueDelivery {
  const metadata = context.triggerMetadata ?? {};
  const dequeueCount = Number(metadata.dequeueCount);
  return {
    dequeueCount: Number.isFinite(dequeueCount) && dequeueCount > 0 ? dequeueCount : 1,
    queueMessageId: typeof metadata.id === 'string' ? metadata.id : undefined,
    insertionTime:
      metadata.insertionTime instanceof Date
        ? metadata.insertionTime.toISOString()
        : typeof metadata.insertionTime === 'string'
          ? metadata.insertionTime
          : undefined,
  };
}
