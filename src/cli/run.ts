/**
 * `oauth2-smtp-relay run`: the relay as a plain worker (a VM, a container, a laptop
 * against a real tenant), without the Functions host or Core Tools. The same queue
 * handler as functions/relayOutboundMail.ts runs behind the host's queue semantics
 * (src/worker/queueRunner.ts, from host.json), and the secret monitor's timer on its
 * schedule, as functions/secretMonitor.ts registers it.
 *
 * stdout carries one JSON line per event: `started`, `health` every
 * --health-interval seconds, `stopping`, `stopped` (the relay's own log lines go
 * through the process logger as well). SIGTERM or SIGINT stops fetching and lets
 * the messages in flight finish within --grace-seconds; a second signal exits at once.
 */
import path from 'node:path';
import type { QueueClient } from '@azure/storage-queue';
import { ConfigError, loadConfig, type Environment, type RelayConfig } from '../settings';
import type { Logger } from '../core/log';
import type { DeliveryCounters } from '../core/metrics';
import type { QueueDelivery } from '../delivery/ports';
import { QueueRunner, readHostQueueSettings, type HostQueueSettings } from '../worker/queueRunner';
import { nextOccurrence } from '../worker/ncrontab';
import { withIdentityEnvironment } from './identityEnvironment';

/** The exit codes of `run` (also in the usage text and the README). */
export const RUN_EXIT = {
  /** Stopped by a signal; every message in flight finished. */
  stopped: 0,
  /** The grace period ran out with messages still in flight, or the worker failed. */
  failed: 1,
  usage: 2,
  /** The settings (or host.json) are invalid: every problem is printed. */
  invalidSettings: 3,
  /** The storage account could not be reached (or the queues not created) at start. */
  storageUnreachable: 4,
} as const;

/** What the worker runs on, built by the composition root from the settings (src/app/worker.ts). */
export interface RelayWorker {
  readonly queue: QueueClient;
  readonly poisonQueue: QueueClient;
  /** The process logger, redacting. */
  readonly logger: Logger;
  /** One delivery of a queue message (the queue function's handler). */
  handle(payload: unknown, delivery: QueueDelivery): Promise<unknown>;
  counters(): DeliveryCounters;
  /** One run of the secret monitor (the timer function's work). */
  runMonitor(): Promise<unknown>;
  /** Closes the SMTP pool. */
  close(): Promise<void>;
}

export interface RunOptions {
  env: Environment;
  hostJson: string;
  graceSeconds: number;
  healthIntervalSeconds: number;
  monitor: boolean;
  out(text: string): void;
  err(text: string): void;
  openWorker(config: RelayConfig): RelayWorker;
}

/** host.json at the package's root: this file is <root>/<dist|build>/src/cli/run.js. */
export const PACKAGED_HOST_JSON = path.resolve(__dirname, '..', '..', '..', 'host.json');

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Runs until a signal; resolves with the exit code. */
export async function runWorker(options: RunOptions): Promise<number> {
  const line = (event: string, fields: Record<string, unknown> = {}) =>
    options.out(`${JSON.stringify({ event, time: new Date().toISOString(), ...fields })}\n`);
  let host: HostQueueSettings;
  try {
    host = readHostQueueSettings(options.hostJson);
  } catch (error) {
    options.err(`Invalid host.json (${options.hostJson}): ${error instanceof Error ? error.message : String(error)}\n`);
    return RUN_EXIT.invalidSettings;
  }
  let config: RelayConfig;
  try {
    config = loadConfig(options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    options.err(`${error.message}\nCorrect these settings (the environment, or the file given with --settings) and start again.\n`);
    return RUN_EXIT.invalidSettings;
  }
  // The storage and Key Vault credentials read the managed-identity endpoint from the environment.
  return withIdentityEnvironment(options.env, async () => {
    const worker = options.openWorker(config);
    const runner = new QueueRunner({
      queue: worker.queue,
      poisonQueue: worker.poisonQueue,
      settings: host,
      handler: (p, d) => worker.handle(p, d),
      logger: worker.logger,
    });
    try {
      await runner.start();
    } catch (error) {
      options.err(
        `Cannot reach the queue "${config.queue.queueName}" of the storage account (AzureWebJobsStorage): ${error instanceof Error ? error.message : String(error)}\n` +
          'Check the connection (or the identity-based AzureWebJobsStorage__* settings and the Storage Queue Data Contributor role), then start again.\n',
      );
      await worker.close();
      return RUN_EXIT.storageUnreachable;
    }
    line('started', {
      queue: config.queue.queueName,
      hostJson: options.hostJson,
      batchSize: host.batchSize,
      graceSeconds: options.graceSeconds,
      healthIntervalSeconds: options.healthIntervalSeconds,
      monitorSchedule: options.monitor ? config.monitor.schedule : null,
    });

    const status = async () => ({
      ...worker.counters(),
      inFlight: runner.inFlightCount,
      movedToPoison: runner.stats.movedToPoison,
      queueDepth: await worker.queue.getProperties().then(
        (properties) => properties.approximateMessagesCount ?? null,
        () => null,
      ),
    });
    const health = setInterval(() => void status().then((fields) => line('health', fields)), options.healthIntervalSeconds * 1000);
    const monitor = options.monitor ? scheduleMonitor(config.monitor.schedule, worker) : undefined;

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT');
    // A second signal: out at once. A claim still held then ends with its ledger lease (RELAY_LEDGER_LEASE_SECONDS).
    const now = (second: NodeJS.Signals) => process.exit(SIGNAL_EXIT[second] ?? 1);
    process.once('SIGTERM', now).once('SIGINT', now);

    clearInterval(health);
    monitor?.stop();
    line('stopping', { signal, inFlight: runner.inFlightCount, graceSeconds: options.graceSeconds });
    const stopped = await runner.stop(options.graceSeconds * 1000);
    await monitor?.idle();
    await worker.close();
    line('stopped', { finished: stopped.finished, ...(await status()), inFlight: stopped.inFlight });
    if (!stopped.finished) {
      options.err(
        `The grace period (${options.graceSeconds} s) ran out with ${stopped.inFlight} message(s) in flight: their ledger claims end after ` +
          `RELAY_LEDGER_LEASE_SECONDS (${config.queue.ledgerLeaseSeconds} s), and the queue delivers them again.\n`,
      );
      return RUN_EXIT.failed;
    }
    return RUN_EXIT.stopped;
  });
}

/** The secret monitor at each occurrence of its NCRONTAB schedule (UTC), one run at a time. */
function scheduleMonitor(schedule: string, worker: RelayWorker): { stop(): void; idle(): Promise<void> } | undefined {
  try {
    nextOccurrence(schedule, new Date());
  } catch (error) {
    worker.logger.warn('the secret monitor is off: its schedule is not understood', { error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const next = nextOccurrence(schedule, new Date());
    // setTimeout holds at most ~24.8 days; a later occurrence is re-armed on the way.
    timer = setTimeout(fire(next), Math.min(next.getTime() - Date.now(), 2 ** 31 - 1));
  };
  const fire = (due: Date) => () => {
    if (Date.now() < due.getTime()) return arm();
    running = worker.runMonitor().then(
      () => undefined,
      (error: unknown) => worker.logger.error('secret monitor run failed', { error: error instanceof Error ? error.message : String(error) }),
    );
    void running.then(arm);
  };
  arm();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    idle: () => running,
  };
}
