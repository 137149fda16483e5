/**
 * One relay instance for the benchmark's limits phase (scripts/benchLimits.ts):
 * the product's wiring (createRelayComponents + relayOf) behind the host-like
 * queue runner, polling until it is killed, and printing its coordination
 * figures (storage requests, lost races, waits, hand-backs) as a `STATS {json}`
 * line every 200 ms. Settings come as JSON in RELAY_SETTINGS_JSON.
 */
import { QueueClient } from '@azure/storage-queue';
import { loadConfig } from '../src/settings';
import { createRelayComponents } from '../src/app/components';
import { relayOf } from '../src/app/relay';
import { silentLogger } from '../src/core/log';
import { QueueRunner } from '../src/worker/queueRunner';
import { newCoordinationStats, type CoordinationStats } from '../src/throttle/sendingWindow';

/** Every sender's coordination figures, summed (each mailbox coordinates on its own blobs). */
function coordinationOf(senders: Array<{ coordination?: CoordinationStats }>): CoordinationStats {
  const sum = newCoordinationStats();
  for (const one of senders) for (const key of Object.keys(sum) as Array<keyof CoordinationStats>) sum[key] += one.coordination?.[key] ?? 0;
  return sum;
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.RELAY_SETTINGS_JSON ?? '{}') as Record<string, string>;
  const parts = createRelayComponents(loadConfig(settings), silentLogger);
  const relay = relayOf(parts);
  const connection = settings.AzureWebJobsStorage!;
  const runner = new QueueRunner({
    queue: new QueueClient(connection, relay.config.queue.queueName),
    poisonQueue: new QueueClient(connection, `${relay.config.queue.queueName}-poison`),
    settings: { batchSize: 8, maxDequeueCount: 5, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    processingVisibilitySeconds: 60,
    handler: (payload, delivery) => relay.handleQueueMessage(payload, delivery, silentLogger),
    logger: silentLogger,
  });
  setInterval(() => {
    const activity = relay.activity();
    process.stdout.write(`STATS ${JSON.stringify({ coordination: coordinationOf(parts.senders.built()), delivered: activity.delivered })}\n`);
  }, 200);
  for (;;) {
    if ((await runner.pollOnce()) === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
