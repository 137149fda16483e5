/** The plain worker's parts (`oauth2-smtp-relay run`, src/cli/run.ts): the relay and the monitor over one set of components. */
import type { RelayConfig } from '../settings';
import { processLogger } from '../core/log';
import type { RelayWorker } from '../cli/run';
import { createRelayComponents } from './components';
import { relayOf } from './relay';
import { monitorOf } from './monitor';

export function openRelayWorker(config: RelayConfig): RelayWorker {
  const components = createRelayComponents(config, processLogger);
  const relay = relayOf(components);
  const monitor = monitorOf(components);
  const queueName = config.queue.queueName;
  return {
    queue: components.storage.queues.getQueueClient(queueName),
    // The host's name for the queue of messages that failed maxDequeueCount times.
    poisonQueue: components.storage.queues.getQueueClient(`${queueName}-poison`),
    logger: components.logger,
    handle: (payload, delivery) => relay.handleQueueMessage(payload, delivery, processLogger),
    counters: () => ({ ...components.counters }),
    runMonitor: () => monitor.run(processLogger),
    close: () => relay.close(),
  };
}
