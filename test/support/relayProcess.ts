/**
 * A relay in a process of its own, for the "killed mid-send" test: the product's
 * own wiring (createRelay from app settings) behind the host-like queue runner,
 * polling until it is killed. Settings come as JSON in RELAY_SETTINGS_JSON; the batch size
 * in RELAY_RUNNER_BATCH_SIZE (default 1), the processing visibility in RELAY_PROCESSING_VISIBILITY_SECONDS.
 */
import { QueueClient } from '@azure/storage-queue';
import { loadConfig } from '../../src/settings';
import { createRelay } from '../../src/app/relay';
import { silentLogger } from '../../src/core/log';
import { QueueRunner } from '../../src/worker/queueRunner';

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.RELAY_SETTINGS_JSON ?? '{}') as Record<string, string>;
  const relay = createRelay(loadConfig(settings), silentLogger);
  const connection = settings.AzureWebJobsStorage!;
  const runner = new QueueRunner({
    queue: new QueueClient(connection, relay.config.queue.queueName),
    poisonQueue: new QueueClient(connection, `${relay.config.queue.queueName}-poison`),
    settings: {
      batchSize: Number(process.env.RELAY_RUNNER_BATCH_SIZE ?? 1),
      maxDequeueCount: relay.config.queue.maxDequeueCount,
      visibilityTimeoutSeconds: 0,
      maxPollingIntervalMs: 100,
      messageEncoding: 'none',
    },
    processingVisibilitySeconds: Number(process.env.RELAY_PROCESSING_VISIBILITY_SECONDS ?? 600),
    handler: (payload, delivery) => relay.handleQueueMessage(payload, delivery, silentLogger),
    logger: silentLogger,
  });
  process.stdout.write('ready\n');
  for (;;) {
    if ((await runner.pollOnce()) === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
