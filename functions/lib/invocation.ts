/** Adapters from the Functions host's InvocationContext to the relay's plain interfaces. */
import type { InvocationContext } from '@azure/functions';
import type { Logger } from '../../src/core/log';
import type { QueueDelivery } from '../../src/delivery/ports';
import { telemetryLogger } from '../../src/telemetry';

/**
 * In Azure (telemetry on): OpenTelemetry records with the fields as attributes, in the invocation's
 * trace. Without it (Core Tools, a local run): one context.log line per event, the message and then
 * its fields as JSON.
 */
export function contextLogger(context: InvocationContext): Logger {
  const line = (message: string, props?: Record<string, unknown>) => (props ? `${message} ${JSON.stringify(props)}` : message);
  return telemetryLogger({
    info: (message, props) => context.info(line(message, props)),
    warn: (message, props) => context.warn(line(message, props)),
    error: (message, props) => context.error(line(message, props)),
  });
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
