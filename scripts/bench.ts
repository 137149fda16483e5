/**
 * npm run bench — the relay's own cost, measured side by side with plain
 * nodemailer in one run (the machines are noisy: compare ratios, not absolutes).
 *
 *   relay     Azurite queue → queue runner (the host's part, in this process) →
 *             relay handler in a worker process of its own (contract, ledger, throttle,
 *             pool, client secret from Key Vault) → the local SMTP server
 *   baseline  nodemailer in this process, one pooled connection, XOAUTH2 with one token,
 *             the same messages straight to the same server
 *
 * Three processes, as in Azure: the stack (Azurite, token endpoint, Key Vault double,
 * SMTP server) in one child; the relay in another (scripts/benchRelayWorker.ts), which
 * only runs the handler, as the Functions worker does while the host polls the queue;
 * and this one, which queues the messages, plays the host and runs the baseline. The
 * relay's CPU time and memory are the worker's; the host's CPU time is printed apart.
 * Sizes: small text, 50 KB HTML, and a 1 MB attachment (sent by reference as a blob: a
 * queue message holds at most 64 KiB), the last in batches of 32 for the memory figure.
 * The worker runs under the memory of a Flex Consumption instance (2,048 MB by default,
 * when the machine lets the benchmark create a cgroup): Node sizes V8's heap from the
 * memory it may use, so on a large workstation the same code peaks higher. The 1 MB phase
 * then runs once more in a worker without the limit, side by side (that worker's own
 * token and Key Vault read are not in the totals). Also the app's share of a cold start:
 * loading every function module in a fresh process; and the redaction worst case (a 1 MiB
 * adversarial text through redact() and through a hostile message's problems, see
 * scripts/redactionWorstCase.ts). Output: a table, then one
 * `BENCH {json}` line.
 *
 * Environment: BENCH_MESSAGES (default 300), BENCH_LARGE_MESSAGES (64),
 * BENCH_LATENCY_MESSAGES (100), BENCH_BATCH_SIZE (16), BENCH_LARGE_BATCH_SIZE (32), BENCH_SIZES (a comma-separated
 * subset of the size names, default all), BENCH_WORKER_ARGS (node arguments for the
 * relay's worker, e.g. "--cpu-prof" to profile the relay alone), BENCH_INSTANCE_MEMORY_MB
 * (2048; 0 runs every worker without a limit). Last, the limits phase (scripts/benchLimits.ts): several relay
 * processes on one mailbox at its scaled-down limits, RELAY_LIMITS_SCOPE=app (BENCH_LIMITS_MESSAGES, default 60;
 * 0 skips it), then the same processes on several mailboxes (BENCH_LIMITS_SENDERS, default 2; 1 skips that run).
 *
 * Repeats: BENCH_REPEAT (default 1) runs every measured phase that many times in one
 * invocation, the relay and the baseline side by side in each repeat and in alternating
 * order (so a machine that drifts slower or faster favours neither), and prints each
 * figure as its median and range; the targets of issue 17 are checked on the medians
 * (scripts/benchStats.ts). Each repeat starts a relay worker of its own, so none inherits
 * the heap, connections or slot leases of another. The cold start takes five fresh
 * processes per repeat.
 *
 * Storage requests: every request each process sends to Azurite is counted during the
 * throughput phases (scripts/storageOperations.ts), by who sent it (the relay's worker;
 * the host's part, i.e. the queue runner in this process), service and REST operation,
 * per delivered message, with the cost of a million messages at the list prices of
 * scripts/storagePrices.ts (BENCH_PRICE_* override them). Then the host's polling of an
 * empty queue at host.json's settings, which costs per minute, not per message, for
 * BENCH_IDLE_SECONDS (default 15, after the back-off has reached its cap; 0 skips it).
 * Then the Graph phase (scripts/benchGraph.ts, BENCH_GRAPH=0 skips it): the graph transport beside SMTP, 1 MB and 30 MB.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { loadConfig, type RelayConfig } from '../src/settings';
import { silentLogger } from '../src/core/log';
import { QueueRunner, readHostQueueSettings, type HostQueueSettings } from '../src/worker/queueRunner';
import type { QueueDelivery } from '../src/delivery/ports';
import { trustedCertificates } from '../src/transport/tls';
import type { VaultReader, WorkerStarted, WorkerStats, WorkerUsage } from './benchRelayWorker';
import { startMeasuring, type ProcessUsage } from './processUsage';
import { functionModules } from './functionModules';
import { createMemoryLimit, type MemoryLimit } from './memoryLimit';
import { formatRedactionWorstCase, measureRedactionWorstCase } from './redactionWorstCase';
import { LIMITS_MESSAGES, LIMITS_SENDERS, measureLimits, type LimitsMeasure } from './benchLimits';
import { checkTarget, formatSpread, formatTarget, relayFirst, spread, type Spread, type TargetCheck } from './benchStats';
import { StorageRequestCounter, storagePorts, type CountedOperation, type StorageRoles } from './storageOperations';
import { costOf, costPerMillionMessages, priceClassOf, pricesFrom } from './storagePrices';
import { GRAPH_PHASE, measureGraph, type GraphBenchRow } from './benchGraph';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const LARGE_MESSAGES = Number(process.env.BENCH_LARGE_MESSAGES ?? 64);
const LATENCY_MESSAGES = Number(process.env.BENCH_LATENCY_MESSAGES ?? 100);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 16);
const LARGE_BATCH_SIZE = Number(process.env.BENCH_LARGE_BATCH_SIZE ?? 32);
const REPEAT = Math.max(1, Math.floor(Number(process.env.BENCH_REPEAT ?? 1)) || 1);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 15);
const PRICES = pricesFrom(process.env);
/** The User-Agent prefix of the queue runner's clients: this process's requests that are the host's part. */
const HOST_AGENT = 'bench-host';

/** Flex Consumption's default instance memory; the relay's worker runs under it. */
const INSTANCE_MEMORY_MB = Number(process.env.BENCH_INSTANCE_MEMORY_MB ?? 2048);

const ATTACHMENT = Buffer.alloc(2 ** 20, 'x');
const ATTACHMENT_BLOB = 'bench/one-megabyte.bin';
const HTML_50K = `<html><body>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n'.repeat(820)}</body></html>`;

interface Size {
  name: string;
  count: number;
  /** Queue messages taken at a time (the host's batchSize). */
  batchSize: number;
  /** The message as an application queues it. */
  queued(i: number): Record<string, unknown>;
  /** The same message for plain nodemailer. */
  direct(i: number): SendMailOptions;
}

const SIZES: [Size, ...Size[]] = [
  // First, so its peak memory is not inflated by the heap the other sizes leave behind.
  {
    name: 'attachment1mb',
    count: LARGE_MESSAGES,
    batchSize: LARGE_BATCH_SIZE,
    queued: (i) => ({
      to: 'bench@example.net',
      subject: `large ${i}`,
      text: 'See attachment.',
      attachments: [{ filename: 'data.bin', blob: ATTACHMENT_BLOB }],
    }),
    direct: (i) => ({ to: 'bench@example.net', subject: `large ${i}`, text: 'See attachment.', attachments: [{ filename: 'data.bin', content: ATTACHMENT }] }),
  },
  {
    name: 'small',
    count: MESSAGES,
    batchSize: BATCH_SIZE,
    queued: (i) => ({ to: 'bench@example.net', subject: `small ${i}`, text: 'Hello from the benchmark.' }),
    direct: (i) => ({ to: 'bench@example.net', subject: `small ${i}`, text: 'Hello from the benchmark.' }),
  },
  {
    name: 'html50k',
    count: MESSAGES,
    batchSize: BATCH_SIZE,
    queued: (i) => ({ to: 'bench@example.net', subject: `html ${i}`, html: HTML_50K }),
    direct: (i) => ({ to: 'bench@example.net', subject: `html ${i}`, html: HTML_50K }),
  },
];

interface Measured extends ProcessUsage {
  seconds: number;
}

/** Runs `work`, timing it and measuring this process's CPU and memory meanwhile. */
async function measured(work: () => Promise<void>): Promise<Measured> {
  const stop = startMeasuring();
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  return { ...stop(), seconds };
}

/** The relay's worker process, driven by request/response messages over IPC. */
class RelayWorker {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly limit?: MemoryLimit,
  ) {
    child.on('message', (reply: { id: number; result?: unknown; error?: string }) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiting?.reject(new Error(reply.error));
      else waiting?.resolve(reply.result);
    });
    child.once('exit', (code) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`the relay worker exited with ${code}`));
      this.pending.clear();
    });
  }

  /** The worker, under `memoryLimitMb` when given and the machine allows it (`started` says what it got). */
  static async start(
    settings: Record<string, string>,
    vaultReader: VaultReader,
    storageRoles: StorageRoles,
    options: { nodeArguments?: string[]; memoryLimitMb?: number } = {},
  ): Promise<RelayWorker> {
    const limit = options.memoryLimitMb
      ? createMemoryLimit(options.memoryLimitMb, `oauth2-smtp-relay-bench-${process.pid}-${++RelayWorker.startedCount}`)
      : undefined;
    const nodeCommand = { command: process.execPath, args: ['--expose-gc', ...(options.nodeArguments ?? []), join(__dirname, 'benchRelayWorker.js')] };
    const { command, args } = limit ? limit.wrap(nodeCommand.command, nodeCommand.args) : nodeCommand;
    const worker = new RelayWorker(spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), limit);
    worker.started = await worker.call<WorkerStarted>('start', { settings, vaultReader, storageRoles });
    return worker;
  }

  private static startedCount = 0;
  /** What the worker reported once started: its memory limit and heap size. */
  started!: WorkerStarted;

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      await this.call('close').catch(() => undefined);
      await exited;
    }
    this.limit?.remove();
  }

  call<T = unknown>(type: string, body: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, type, ...body });
    });
  }

  invoke(payload: unknown, delivery: QueueDelivery): Promise<{ status: string }> {
    return this.call('invoke', { payload, delivery });
  }
}

interface Stack {
  /** The local stack's settings (benchStack.ts prints them), its client secret moved into the vault double. */
  settings: Record<string, string> & { AzureWebJobsStorage: string };
  vaultReader: VaultReader;
  stop(): void;
}

async function startStack(): Promise<Stack> {
  const child = spawn(process.execPath, [join(__dirname, 'benchStack.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench stack exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<Stack, 'stop'>), stop: () => child.stdin.end() };
}

/** What the storage requests touch, by queue and container name (the counts name roles, not names). */
function storageRolesOf(config: RelayConfig): StorageRoles {
  const { queue } = config;
  const roles: Record<string, string> = {
    [queue.ledgerContainerName]: 'ledger',
    [queue.attachmentContainerName]: 'attachment',
    [queue.coordinationContainerName]: 'coordination',
    [queue.deadLetterContainerName]: 'dead-letter records',
    [queue.deadLetterQueueName]: 'dead-letter queue',
    // Where the relay puts a message back for a later retry (the bench's runners drain queues of their own).
    [queue.queueName]: 'retry queue',
    'bench-idle': 'relay queue',
  };
  for (const size of SIZES) {
    for (const name of [`bench-${size.name}`, `bench-latency-${size.name}`]) {
      roles[name] = 'relay queue';
      roles[`${name}-poison`] = 'poison queue';
    }
  }
  return roles;
}

/** The host's part, with the host's queue settings but for `overrides`; its clients carry HOST_AGENT so their requests count as the host's. */
function runnerFor(
  config: RelayConfig,
  worker: RelayWorker,
  queueName: string,
  overrides: Partial<HostQueueSettings>,
  onDelivered: (payload: unknown) => void,
): QueueRunner {
  const connection = config.queue.connection;
  if (connection.kind !== 'connectionString') throw new Error('the bench runs on Azurite');
  const asHost = { userAgentOptions: { userAgentPrefix: HOST_AGENT } };
  const batchSize = overrides.batchSize ?? BATCH_SIZE;
  return new QueueRunner({
    queue: new QueueClient(connection.connectionString, queueName, asHost),
    poisonQueue: new QueueClient(connection.connectionString, `${queueName}-poison`, asHost),
    // Polling at most 100 ms apart, so the latency figures show the relay, not the poll interval.
    settings: {
      batchSize,
      newBatchThreshold: batchSize / 2,
      maxDequeueCount: 5,
      visibilityTimeoutSeconds: 30,
      maxPollingIntervalMs: 100,
      messageEncoding: 'none',
      ...overrides,
    },
    handler: async (payload, delivery) => {
      const outcome = await worker.invoke(payload, delivery);
      if (outcome.status !== 'delivered') throw new Error(`bench message not delivered: ${JSON.stringify(outcome)}`);
      onDelivered(payload);
    },
    logger: silentLogger,
  });
}

interface RelayMeasure {
  seconds: number;
  /** The relay's worker, with the storage requests it sent. */
  relay: WorkerUsage;
  /** CPU time of the host's part (polling, XML, deletes), in this process. */
  hostCpuMs: number;
  /** The storage requests of the host's part. */
  hostStorage: CountedOperation[];
}

async function relayThroughput(
  config: RelayConfig,
  worker: RelayWorker,
  connection: string,
  size: Size,
  hostRequests: StorageRequestCounter,
): Promise<RelayMeasure> {
  const name = `bench-${size.name}`;
  const queue = new QueueClient(connection, name);
  await queue.createIfNotExists();
  // Pre-filled queue: the figure is how fast the relay drains it.
  for (let i = 0; i < size.count; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, size.count - i) }, (_, k) => queue.sendMessage(JSON.stringify(size.queued(i + k)))));
  }
  let delivered = 0;
  let done!: () => void;
  const allDelivered = new Promise<void>((resolve) => (done = resolve));
  const runner = runnerFor(config, worker, name, { batchSize: size.batchSize }, () => ++delivered === size.count && done());
  await worker.call('measureStart');
  hostRequests.reset();
  const host = await measured(async () => {
    await runner.start();
    await allDelivered;
  });
  const relay = await worker.call<WorkerUsage>('measureStop');
  await runner.stop();
  return { seconds: host.seconds, relay, hostCpuMs: host.cpuMs, hostStorage: hostRequests.snapshot() };
}

async function relayLatency(config: RelayConfig, worker: RelayWorker, connection: string, size: Size): Promise<{ p50: number; p99: number }> {
  const name = `bench-latency-${size.name}`;
  const queue = new QueueClient(connection, name);
  await queue.createIfNotExists();
  const enqueuedAt = new Map<string, number>();
  const latencies: number[] = [];
  const runner = runnerFor(config, worker, name, { batchSize: size.batchSize }, (payload) => {
    latencies.push(performance.now() - enqueuedAt.get((payload as { subject: string }).subject)!);
  });
  await runner.start();
  const count = Math.min(LATENCY_MESSAGES, size.count);
  for (let i = 0; i < count; i++) {
    const message = size.queued(i);
    enqueuedAt.set(message.subject as string, performance.now());
    await queue.sendMessage(JSON.stringify(message));
    await new Promise((resolve) => setTimeout(resolve, 50)); // a steady 20 messages/s, below capacity
  }
  while (latencies.length < count) await new Promise((resolve) => setTimeout(resolve, 20));
  await runner.stop();
  latencies.sort((a, b) => a - b);
  // NaN (null in the JSON) when the phase measured no message (BENCH_LATENCY_MESSAGES=0).
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

async function baseline(config: RelayConfig, worker: RelayWorker, size: Size): Promise<Measured> {
  const token = await worker.call<{ token: string; expiresOnTimestamp: number }>('token');
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 1,
    host: config.smtp.host,
    port: config.smtp.port,
    requireTLS: true,
    tls: { ca: trustedCertificates(config.smtp.extraCa) },
    auth: { type: 'OAuth2', user: config.mail.user, accessToken: token.token, expires: token.expiresOnTimestamp },
  });
  const send = (i: number) => transport.sendMail({ from: config.mail.from, ...size.direct(i) });
  await send(-1); // connect and authenticate outside the timing, as the relay's warm pool has
  const result = await measured(async () => {
    await Promise.all(Array.from({ length: size.count }, (_, i) => send(i)));
  });
  transport.close();
  return result;
}

type Row = Record<string, number | string | null>;

/** A row's relay figures, and its throughput against the baseline's. */
function relayColumns(size: Size, worker: RelayWorker, ours: RelayMeasure, baselinePerSecond: number): Row {
  const relayPerSecond = size.count / ours.seconds;
  return {
    size: size.name,
    workerMemoryLimitMb: worker.started.memoryLimitMb,
    workerHeapLimitMb: worker.started.heapLimitMb,
    messages: size.count,
    batch: size.batchSize,
    relayPerSecond: round(relayPerSecond),
    baselinePerSecond: round(baselinePerSecond),
    ratio: round(relayPerSecond / baselinePerSecond, 2),
    relayCpuMsPerMessage: round(ours.relay.cpuMs / size.count, 2),
    hostCpuMsPerMessage: round(ours.hostCpuMs / size.count, 2),
    relayIdleRssMb: round(ours.relay.idleRssMb),
    relayPeakRssMb: round(ours.relay.peakRssMb),
  };
}

/** One phase's storage requests in one repeat: who sent what, and for how many delivered messages. */
interface StorageRun {
  messages: number;
  requests: CountedOperation[];
}

/** A phase's storage requests over the repeats: per delivered message, each operation and in all, and what a million messages cost. */
interface StorageFigures {
  messages: number;
  operations: Array<Omit<CountedOperation, 'count'> & { priceClass: string; perMessage: Spread; usdPerMillion: number }>;
  relayPerMessage: Spread;
  hostPerMessage: Spread;
  perMessage: Spread;
  usdPerMillionMessages: Spread;
}

function storageFigures(runs: StorageRun[]): StorageFigures {
  const keyOf = (request: CountedOperation) => [request.actor, request.service, request.target, request.operation].join('\u0000');
  const operations = new Map<string, CountedOperation>();
  for (const run of runs) for (const request of run.requests) operations.set(keyOf(request), request);
  const perRun = (pick: (request: CountedOperation) => boolean) =>
    runs.map((run) => run.requests.filter(pick).reduce((sum, request) => sum + request.count, 0) / run.messages);
  const rows = [...operations.entries()].map(([key, { count: _count, ...operation }]) => {
    const perMessage = spread(
      perRun((request) => keyOf(request) === key),
      2,
    );
    return {
      ...operation,
      priceClass: priceClassOf(operation) ?? 'free',
      perMessage,
      usdPerMillion: round(costOf(operation, perMessage.median * 1e6, PRICES), 2),
    };
  });
  rows.sort((a, b) => a.actor.localeCompare(b.actor) || b.perMessage.median - a.perMessage.median);
  const cost = runs.map((run) =>
    costPerMillionMessages(
      run.requests.map((request) => ({ ...request, perMessage: request.count / run.messages })),
      PRICES,
    ),
  );
  return {
    messages: runs[0]?.messages ?? 0,
    operations: rows,
    relayPerMessage: spread(
      perRun((request) => request.actor === 'relay'),
      2,
    ),
    hostPerMessage: spread(
      perRun((request) => request.actor === 'host'),
      2,
    ),
    perMessage: spread(
      perRun(() => true),
      2,
    ),
    usdPerMillionMessages: spread(cost, 2),
  };
}

/** Figures that vary between runs keep two decimals, as the single run printed them. */
const digitsOf = (field: string) => (/ratio|Cpu|Per1000/.test(field) ? 2 : 0);

/** The repeats of one row as one: each number its median (the BENCH line's fields as before), with the spreads. */
interface MedianRow {
  fields: Row;
  spread: Record<string, Spread>;
}

function medianRow(runs: Row[]): MedianRow {
  const row: Row = { ...runs[0] };
  const spreads: Record<string, Spread> = {};
  for (const [field, value] of Object.entries(runs[0] ?? {})) {
    if (typeof value !== 'number') continue;
    const figure = spread(
      runs.map((run) => {
        const measured = run[field];
        return typeof measured === 'number' ? measured : Number.NaN;
      }),
      digitsOf(field),
    );
    row[field] = figure.median;
    spreads[field] = figure;
  }
  return { fields: row, spread: spreads };
}

/** A row for the console: each figure as "median (min–max)". */
function printable(row: MedianRow): Record<string, string | number | null> {
  const cell = (figure: Spread) => (figure.min === figure.max ? figure.median : formatSpread(figure));
  return Object.fromEntries(Object.entries(row.fields).map(([field, value]) => [field, row.spread[field] ? cell(row.spread[field]) : value]));
}

/**
 * The app's share of a cold start: loading every function module (what the host's
 * `main` glob names) in a fresh Node process, `count` times.
 */
function coldStartSamples(count: number): number[] {
  const modules = functionModules();
  const script = `const t = performance.now(); for (const m of ${JSON.stringify(modules)}) require(m); process.stdout.write(String(performance.now() - t));`;
  return Array.from({ length: count }, () => Number(execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()));
}

interface IdlePolling {
  /** host.json's cap on the back-off between empty polls. */
  maxPollingIntervalSeconds: number;
  seconds: number;
  /** Get Messages on the empty queue, per minute, measured once the back-off reached its cap. */
  requestsPerMinute: number;
  usdPerMonth: number;
}

/**
 * The host's cost while there is nothing to send: its polls of the empty queue at host.json's
 * settings (the back-off doubles up to maxPollingInterval), counted after the back-off reached
 * its cap. Per queue and per instance, whatever the traffic: a cost per minute, not per message.
 */
async function idlePolling(config: RelayConfig, worker: RelayWorker, connection: string, hostRequests: StorageRequestCounter): Promise<IdlePolling> {
  const host = readHostQueueSettings(join(__dirname, '..', '..', 'host.json'));
  const queue = new QueueClient(connection, 'bench-idle');
  await queue.createIfNotExists();
  const runner = runnerFor(config, worker, 'bench-idle', host, () => undefined);
  await runner.start();
  // The back-off's delays sum to less than twice its cap before they reach it.
  await new Promise((resolve) => setTimeout(resolve, 2 * host.maxPollingIntervalMs));
  hostRequests.reset();
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
  const polls = hostRequests.snapshot().filter((request) => request.actor === 'host' && request.operation === 'Get Messages');
  await runner.stop();
  const requestsPerMinute = (polls.reduce((sum, request) => sum + request.count, 0) * 60) / IDLE_SECONDS;
  return {
    maxPollingIntervalSeconds: host.maxPollingIntervalMs / 1000,
    seconds: IDLE_SECONDS,
    requestsPerMinute: round(requestsPerMinute, 1),
    usdPerMonth: round(costOf({ service: 'queue', operation: 'Get Messages' }, requestsPerMinute * 60 * 24 * 30, PRICES), 4),
  };
}

/** Issue 17's targets, checked on the medians. */
function targets(rows: MedianRow[], storage: Record<string, StorageFigures>, requestCpuMs: Spread, coldStart: Spread): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const limited = (name: string) =>
    rows.find((row) => row.fields.size === name && row.fields.workerMemoryLimitMb !== null) ?? rows.find((row) => row.fields.size === name);
  for (const [name, label, bound] of [
    ['small', 'small text', 0.9],
    ['html50k', '50 KB HTML', 0.8],
    ['attachment1mb', '1 MB by blob', 0.9],
  ] as const) {
    const row = limited(name);
    if (row?.spread.ratio) checks.push(checkTarget({ figure: `throughput ratio, ${label}`, measured: row.spread.ratio, bound, direction: 'atLeast' }));
  }
  const small = limited('small');
  const ledger = storage.small?.operations.filter((operation) => operation.actor === 'relay' && operation.target === 'ledger');
  if (small?.spread.relayCpuMsPerMessage && small.spread.baselineCpuMsPerMessage && ledger) {
    // The ledger's share: its requests per message (counted) × the CPU one such request costs the worker (measured).
    const ledgerRequests = ledger.reduce((sum, operation) => sum + operation.perMessage.median, 0);
    const baselineCpu = small.spread.baselineCpuMsPerMessage.median;
    const bound = round(1.3 * baselineCpu + ledgerRequests * requestCpuMs.median, 2);
    checks.push(
      checkTarget({
        figure: 'relay CPU ms per small message',
        measured: small.spread.relayCpuMsPerMessage,
        bound,
        direction: 'atMost',
        note: `1.3 × baseline ${baselineCpu} ms + the ledger's ${round(ledgerRequests, 2)} requests × ${requestCpuMs.median} ms each`,
      }),
    );
  }
  checks.push(checkTarget({ figure: 'cold start ms (all function modules, fresh process)', measured: coldStart, bound: 200, direction: 'atMost' }));
  for (const row of rows.filter((candidate) => candidate.fields.size === 'attachment1mb')) {
    const { workerMemoryLimitMb, workerHeapLimitMb, batch } = row.fields;
    const where = workerMemoryLimitMb === null ? `without a memory limit (heap limit ${workerHeapLimitMb} MB)` : `under ${workerMemoryLimitMb} MB`;
    if (row.spread.relayPeakRssMb) {
      checks.push(checkTarget({ figure: `peak RSS MB, ${batch} × 1 MB, ${where}`, measured: row.spread.relayPeakRssMb, bound: 150, direction: 'atMost' }));
    }
  }
  return checks;
}

/**
 * A phase that runs after the relay's own, on a stack of its own, once per invocation; its
 * result goes into the BENCH line under `key` and its summary is printed. A new optional phase
 * (e.g. another transport's) is one more entry in OPTIONAL_PHASES.
 */
interface OptionalPhase {
  key: string;
  enabled: boolean;
  run(): Promise<{ result: unknown; summary: string }>;
}

const describeLimits = (measured: LimitsMeasure) =>
  `limits (${measured.processes} relay processes, ${measured.senders} mailbox(es), RELAY_LIMITS_SCOPE=app): ${measured.messages} messages in ${measured.seconds} s = ` +
  `${measured.messagesPerSecond}/s of ${measured.allowedPerSecond}/s allowed; throttling replies ${measured.throttlingReplies}; ` +
  `storage requests per message ${measured.storageRequestsPerMessage} (window ${measured.windowRequestsPerMessage}, connection slots ${measured.slotRequestsPerMessage}); ` +
  `${measured.connections} connections, ${measured.conflicts} lost races, ${measured.handedBack} hand-backs`;

const describeGraphRow = (row: GraphBenchRow) =>
  `graph phase, ${row.transport} ${row.size}: ${row.messages} messages, ${row.messagesPerSecond}/s (${row.attachmentMbPerSecond} MB/s), ` +
  `relay CPU ${row.relayCpuMsPerMessage} ms/message, RSS idle ${row.relayIdleRssMb} MB, peak ${row.relayPeakRssMb} MB` +
  (row.uploadPutsPerMessage === undefined ? '' : `, ${row.uploadPutsPerMessage} upload PUTs/message`);

const limitsPhase = (key: string, enabled: boolean, senders?: number): OptionalPhase => ({
  key,
  enabled,
  run: async () => {
    const result = await measureLimits(senders);
    return { result, summary: describeLimits(result) };
  },
});

const OPTIONAL_PHASES: OptionalPhase[] = [
  // Several relay processes on one mailbox at its (scaled-down) limits.
  limitsPhase('limits', LIMITS_MESSAGES > 0),
  // Then the same processes serving several senders, each mailbox at its own limits.
  limitsPhase('severalSenders', LIMITS_MESSAGES > 0 && LIMITS_SENDERS > 1, LIMITS_SENDERS),
  // Then the graph transport beside SMTP, 1 MB and 30 MB (scripts/benchGraph.ts; BENCH_GRAPH=0 skips it).
  {
    key: 'graph',
    enabled: GRAPH_PHASE,
    run: async () => {
      const result = await measureGraph();
      return { result, summary: result.map(describeGraphRow).join('\n') };
    },
  },
];

async function main(): Promise<void> {
  const startedAt = performance.now();
  const coldStart = spread(coldStartSamples(5 * REPEAT));
  // Before the stack starts: nothing else runs on the machine's two cores meanwhile.
  const redaction = measureRedactionWorstCase();
  const stack = await startStack();
  const settings = { ...stack.settings, RELAY_QUEUE_NAME: 'bench' };
  const connection = settings.AzureWebJobsStorage;
  const config = loadConfig(settings);
  const roles = storageRolesOf(config);
  // This process's storage requests: the queue runner's are the host's, the rest (queueing, set-up) the producer's.
  const hostRequests = new StorageRequestCounter(storagePorts(connection), roles, (agent) => (agent.startsWith(HOST_AGENT) ? 'host' : 'producer'));
  // The producer's part: the attachment is in storage before its messages are queued.
  const attachments = BlobServiceClient.fromConnectionString(connection).getContainerClient(config.queue.attachmentContainerName);
  await attachments.createIfNotExists();
  await attachments.getBlockBlobClient(ATTACHMENT_BLOB).uploadData(ATTACHMENT);
  const nodeArguments = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean);
  // Each worker coordinates in a container of its own: a worker that exits leaves its connection
  // slots leased until the leases run out (up to a minute), which would starve the next one.
  let workers = 0;
  const own = () => {
    const container = `bench-coordination-${++workers}`;
    return { settings: { ...settings, RELAY_COORDINATION_CONTAINER: container }, roles: { ...roles, [container]: 'coordination' } };
  };
  /** Each repeat's relay runs in a fresh worker, so no repeat inherits the heap, pool or slot leases another left behind. */
  const startLimitedWorker = async (repeat: number) => {
    const mine = own();
    const worker = await RelayWorker.start(mine.settings, stack.vaultReader, mine.roles, { nodeArguments, memoryLimitMb: INSTANCE_MEMORY_MB });
    if (repeat === 0 && INSTANCE_MEMORY_MB && worker.started.memoryLimitMb === null) {
      console.error(
        `bench: could not run the relay's worker under ${INSTANCE_MEMORY_MB} MB (no writable cgroup memory controller); its memory figures are for this machine's memory`,
      );
    }
    return worker;
  };

  /** Each row's runs, keyed by size and worker (the 1 MB phase also runs in a worker without the limit). */
  const rowRuns = new Map<string, Row[]>();
  const storageRuns = new Map<string, StorageRun[]>();
  const requestCpuRuns: number[] = [];
  const add = <T>(map: Map<string, T[]>, key: string, value: T) => map.set(key, [...(map.get(key) ?? []), value]);
  const chosen = process.env.BENCH_SIZES?.split(',') ?? SIZES.map((size) => size.name);
  let relayed = 0;
  const totals: WorkerStats = { tokenRequests: 0, vaultReads: 0, smtpConnectionsOpened: 0 };
  let idle: IdlePolling | undefined;
  const large = SIZES[0];
  try {
    for (let repeat = 0; repeat < REPEAT; repeat++) {
      let largeBaselinePerSecond: number | undefined;
      const worker = await startLimitedWorker(repeat);
      relayed += 1; // its warm-up
      const stats = () => worker.call<WorkerStats>('stats');
      try {
        for (const size of SIZES.filter((candidate) => chosen.includes(candidate.name))) {
          const relay = async () => {
            const before = await stats();
            const ours = await relayThroughput(config, worker, connection, size, hostRequests);
            const latency = await relayLatency(config, worker, connection, size);
            const handled = size.count + Math.min(LATENCY_MESSAGES, size.count);
            relayed += handled;
            const after = await stats();
            return { ours, latency, handled, before, after };
          };
          // Alternating which goes first, so drift during a repeat favours neither.
          const baselineFirst = !relayFirst(repeat);
          const earlyBase = baselineFirst ? await baseline(config, worker, size) : undefined;
          const { ours, latency, handled, before, after } = await relay();
          const base = earlyBase ?? (await baseline(config, worker, size));
          const baselinePerSecond = size.count / base.seconds;
          add(rowRuns, `${size.name} limited`, {
            ...relayColumns(size, worker, ours, baselinePerSecond),
            baselineCpuMsPerMessage: round(base.cpuMs / size.count, 2),
            p50Ms: round(latency.p50),
            p99Ms: round(latency.p99),
            tokenRequestsPer1000: round(((after.tokenRequests - before.tokenRequests) * 1000) / handled, 2),
            vaultReadsPer1000: round(((after.vaultReads - before.vaultReads) * 1000) / handled, 2),
            smtpConnectionsOpened: after.smtpConnectionsOpened - before.smtpConnectionsOpened,
          });
          add(storageRuns, size.name, { messages: size.count, requests: [...ours.relay.storage, ...ours.hostStorage] });
          if (size === large) largeBaselinePerSecond = baselinePerSecond;
        }
        requestCpuRuns.push(await worker.call<number>('storageRequestCpu', { requests: 200 }));
        // The host's polling while idle, once: the runner needs a worker to hand messages to (there are none).
        if (repeat === REPEAT - 1 && IDLE_SECONDS > 0) idle = await idlePolling(config, worker, connection, hostRequests);
        const last = await stats();
        totals.tokenRequests += last.tokenRequests;
        totals.vaultReads += last.vaultReads;
        totals.smtpConnectionsOpened += last.smtpConnectionsOpened;
      } finally {
        await worker.close();
      }
      if (largeBaselinePerSecond !== undefined && worker.started.memoryLimitMb !== null) {
        // The same phase in a fresh worker without the limit (V8 sized for this machine), side by side; its token and Key Vault read are not in the totals.
        const mine = own();
        const unlimited = await RelayWorker.start(mine.settings, stack.vaultReader, mine.roles, { nodeArguments });
        try {
          add(
            rowRuns,
            `${large.name} unlimited`,
            relayColumns(large, unlimited, await relayThroughput(config, unlimited, connection, large, hostRequests), largeBaselinePerSecond),
          );
        } finally {
          await unlimited.close();
        }
      }
    }
  } finally {
    hostRequests.close();
    stack.stop();
  }
  const optional: Record<string, unknown> = {};
  const optionalLines: string[] = [];
  for (const phase of OPTIONAL_PHASES.filter((candidate) => candidate.enabled)) {
    const { result, summary } = await phase.run();
    optional[phase.key] = result;
    optionalLines.push(summary);
  }

  const rows = [...rowRuns.values()].map(medianRow);
  const storage = Object.fromEntries([...storageRuns].map(([name, runs]) => [name, storageFigures(runs)]));
  const requestCpuMs = spread(requestCpuRuns, 3);
  const checks = targets(rows, storage, requestCpuMs, coldStart);

  console.log(`${REPEAT} repeat(s); each figure is the median${REPEAT > 1 ? ' (min–max)' : ''} of the repeats`);
  console.table(rows.map(printable));
  for (const [name, figures] of Object.entries(storage)) {
    console.log(
      `storage requests per delivered message, ${name} (throughput phase, ${figures.messages} messages): relay ${formatSpread(figures.relayPerMessage)} + host ${formatSpread(figures.hostPerMessage)} = ${formatSpread(figures.perMessage)}; ` +
        `USD ${formatSpread(figures.usdPerMillionMessages)} per million messages`,
    );
    console.table(
      figures.operations.map((operation) => ({
        who: operation.actor,
        service: operation.service,
        target: operation.target,
        operation: operation.operation,
        'per message': formatSpread(operation.perMessage),
        price: operation.priceClass,
        'USD per million messages': operation.usdPerMillion,
      })),
    );
  }
  console.log(`prices (USD per 10,000 requests, ${PRICES.asOf}; ${PRICES.source}): ${JSON.stringify(PRICES.usdPer10000)}`);
  console.log(`CPU of one ledger-like storage request in the worker (conditional Put Blob): ${formatSpread(requestCpuMs)} ms`);
  if (idle) {
    console.log(
      `host polling an empty queue (host.json maxPollingInterval ${idle.maxPollingIntervalSeconds} s, counted over ${idle.seconds} s): ${idle.requestsPerMinute} Get Messages per minute ` +
        `= USD ${idle.usdPerMonth} per 30 days, per queue and per instance, whatever the traffic`,
    );
  }
  for (const line of optionalLines) console.log(line);
  // Over the whole run (warm-ups included): the token lifetime and the secret cache outlast a worker's repeat.
  console.log(
    `whole run: ${relayed} messages relayed by ${REPEAT} worker(s) (one per repeat) with ${totals.tokenRequests} token request(s) and ${totals.vaultReads} Key Vault read(s)`,
  );
  console.log(
    `loading all function modules in a fresh process (cold start, the app's share): ${formatSpread(coldStart)} ms over ${coldStart.runs.length} processes`,
  );
  console.log(formatRedactionWorstCase(redaction));
  console.log('targets (issue 17), on the medians:');
  for (const check of checks) console.log(`  ${formatTarget(check)}`);
  const seconds = round((performance.now() - startedAt) / 1000);
  console.log(`bench took ${seconds} s`);
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 2 ** 30, 1) },
    repeat: REPEAT,
    seconds,
    coldStartMs: coldStart.median,
    coldStart,
    redactionWorstCase: redaction,
    totals: { messages: relayed, tokenRequests: totals.tokenRequests, vaultReads: totals.vaultReads },
    results: rows.map((row) => ({ ...row.fields, spread: row.spread })),
    storage,
    storageRequestCpuMs: requestCpuMs,
    idlePolling: idle,
    prices: PRICES,
    targets: checks.map(({ measured: figure, ...check }) => ({ ...check, ...figure })),
    ...optional,
  };
  console.log(`BENCH ${JSON.stringify(summary)}`);
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
