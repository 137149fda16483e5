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
 * Then the Graph phase (scripts/benchGraph.ts, BENCH_GRAPH=0 skips it): the graph transport beside SMTP, 1 MB and 30 MB.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { loadConfig, type RelayConfig } from '../src/settings';
import { silentLogger } from '../src/core/log';
import { QueueRunner } from '../src/worker/queueRunner';
import type { QueueDelivery } from '../src/delivery/ports';
import { trustedCertificates } from '../src/transport/tls';
import type { VaultReader, WorkerStarted, WorkerStats } from './benchRelayWorker';
import { startMeasuring, type ProcessUsage } from './processUsage';
import { functionModules } from './functionModules';
import { createMemoryLimit, type MemoryLimit } from './memoryLimit';
import { formatRedactionWorstCase, measureRedactionWorstCase } from './redactionWorstCase';
import { LIMITS_MESSAGES, LIMITS_SENDERS, measureLimits } from './benchLimits';
import { GRAPH_PHASE, measureGraph } from './benchGraph';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const LARGE_MESSAGES = Number(process.env.BENCH_LARGE_MESSAGES ?? 64);
const LATENCY_MESSAGES = Number(process.env.BENCH_LATENCY_MESSAGES ?? 100);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 16);
const LARGE_BATCH_SIZE = Number(process.env.BENCH_LARGE_BATCH_SIZE ?? 32);

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
    options: { nodeArguments?: string[]; memoryLimitMb?: number } = {},
  ): Promise<RelayWorker> {
    const limit = options.memoryLimitMb
      ? createMemoryLimit(options.memoryLimitMb, `oauth2-smtp-relay-bench-${process.pid}-${++RelayWorker.startedCount}`)
      : undefined;
    const nodeCommand = { command: process.execPath, args: ['--expose-gc', ...(options.nodeArguments ?? []), join(__dirname, 'benchRelayWorker.js')] };
    const { command, args } = limit ? limit.wrap(nodeCommand.command, nodeCommand.args) : nodeCommand;
    const worker = new RelayWorker(spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), limit);
    worker.started = await worker.call<WorkerStarted>('start', { settings, vaultReader });
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

function runnerFor(config: RelayConfig, worker: RelayWorker, queue: QueueClient, batchSize: number, onDelivered: (payload: unknown) => void): QueueRunner {
  const connection = config.queue.connection;
  if (connection.kind !== 'connectionString') throw new Error('the bench runs on Azurite');
  return new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection.connectionString, `${queue.name}-poison`),
    // Polling at most 100 ms apart, so the latency figures show the relay, not the poll interval.
    settings: {
      batchSize,
      newBatchThreshold: batchSize / 2,
      maxDequeueCount: 5,
      visibilityTimeoutSeconds: 30,
      maxPollingIntervalMs: 100,
      messageEncoding: 'none',
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
  /** The relay's worker. */
  relay: ProcessUsage;
  /** CPU time of the host's part (polling, XML, deletes), in this process. */
  hostCpuMs: number;
}

async function relayThroughput(config: RelayConfig, worker: RelayWorker, connection: string, size: Size): Promise<RelayMeasure> {
  const queue = new QueueClient(connection, `bench-${size.name}`);
  await queue.createIfNotExists();
  // Pre-filled queue: the figure is how fast the relay drains it.
  for (let i = 0; i < size.count; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, size.count - i) }, (_, k) => queue.sendMessage(JSON.stringify(size.queued(i + k)))));
  }
  let delivered = 0;
  let done!: () => void;
  const allDelivered = new Promise<void>((resolve) => (done = resolve));
  const runner = runnerFor(config, worker, queue, size.batchSize, () => ++delivered === size.count && done());
  await worker.call('measureStart');
  const host = await measured(async () => {
    await runner.start();
    await allDelivered;
  });
  const relay = await worker.call<ProcessUsage>('measureStop');
  await runner.stop();
  return { seconds: host.seconds, relay, hostCpuMs: host.cpuMs };
}

async function relayLatency(config: RelayConfig, worker: RelayWorker, connection: string, size: Size): Promise<{ p50: number; p99: number }> {
  const queue = new QueueClient(connection, `bench-latency-${size.name}`);
  await queue.createIfNotExists();
  const enqueuedAt = new Map<string, number>();
  const latencies: number[] = [];
  const runner = runnerFor(config, worker, queue, size.batchSize, (payload) => {
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

/** A row's relay figures, and its throughput against the baseline's. */
function relayColumns(size: Size, worker: RelayWorker, ours: RelayMeasure, baselinePerSecond: number): Record<string, unknown> {
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

/**
 * The app's share of a cold start: loading every function module (what the host's
 * `main` glob names) in a fresh Node process, the median of five.
 */
function coldStartMs(): number {
  const modules = functionModules();
  const script = `const t = performance.now(); for (const m of ${JSON.stringify(modules)}) require(m); process.stdout.write(String(performance.now() - t));`;
  const samples = Array.from({ length: 5 }, () => Number(execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()));
  return samples.sort((a, b) => a - b)[2]!; // the middle one of the five
}

async function main(): Promise<void> {
  const loadMs = coldStartMs();
  // Before the stack starts: nothing else runs on the machine's two cores meanwhile.
  const redaction = measureRedactionWorstCase();
  const stack = await startStack();
  const settings = { ...stack.settings, RELAY_QUEUE_NAME: 'bench' };
  const connection = settings.AzureWebJobsStorage;
  const config = loadConfig(settings);
  // The producer's part: the attachment is in storage before its messages are queued.
  const attachments = BlobServiceClient.fromConnectionString(connection).getContainerClient(config.queue.attachmentContainerName);
  await attachments.createIfNotExists();
  await attachments.getBlockBlobClient(ATTACHMENT_BLOB).uploadData(ATTACHMENT);
  const nodeArguments = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean);
  const worker = await RelayWorker.start(settings, stack.vaultReader, { nodeArguments, memoryLimitMb: INSTANCE_MEMORY_MB });
  if (INSTANCE_MEMORY_MB && worker.started.memoryLimitMb === null) {
    console.error(
      `bench: could not run the relay's worker under ${INSTANCE_MEMORY_MB} MB (no writable cgroup memory controller); its memory figures are for this machine's memory`,
    );
  }
  const stats = () => worker.call<WorkerStats>('stats');

  const results: Record<string, unknown>[] = [];
  const chosen = process.env.BENCH_SIZES?.split(',') ?? SIZES.map((size) => size.name);
  let relayed = 1; // the warm-up
  let totals: WorkerStats;
  const large = SIZES[0];
  let largeBaselinePerSecond: number | undefined;
  try {
    for (const size of SIZES.filter((candidate) => chosen.includes(candidate.name))) {
      const before = await stats();
      const ours = await relayThroughput(config, worker, connection, size);
      const latency = await relayLatency(config, worker, connection, size);
      const handled = size.count + Math.min(LATENCY_MESSAGES, size.count);
      relayed += handled;
      const after = await stats();
      const base = await baseline(config, worker, size);
      const baselinePerSecond = size.count / base.seconds;
      results.push({
        ...relayColumns(size, worker, ours, baselinePerSecond),
        baselineCpuMsPerMessage: round(base.cpuMs / size.count, 2),
        p50Ms: round(latency.p50),
        p99Ms: round(latency.p99),
        tokenRequestsPer1000: round(((after.tokenRequests - before.tokenRequests) * 1000) / handled, 2),
        vaultReadsPer1000: round(((after.vaultReads - before.vaultReads) * 1000) / handled, 2),
        smtpConnectionsOpened: after.smtpConnectionsOpened - before.smtpConnectionsOpened,
      });
      if (size === large) largeBaselinePerSecond = baselinePerSecond;
    }
    totals = await stats();
    if (largeBaselinePerSecond !== undefined && worker.started.memoryLimitMb !== null) {
      // The same phase in a fresh worker without the limit (V8 sized for this machine), side by side.
      const unlimited = await RelayWorker.start(settings, stack.vaultReader, { nodeArguments });
      try {
        results.push(relayColumns(large, unlimited, await relayThroughput(config, unlimited, connection, large), largeBaselinePerSecond));
      } finally {
        await unlimited.close();
      }
    }
  } finally {
    await worker.close();
    stack.stop();
  }
  // Last, on a stack of its own: several relay processes on one mailbox at its (scaled-down) limits.
  const limits = LIMITS_MESSAGES > 0 ? await measureLimits() : undefined;
  // Then the same processes serving several senders, each mailbox at its own limits.
  const severalSenders = LIMITS_MESSAGES > 0 && LIMITS_SENDERS > 1 ? await measureLimits(LIMITS_SENDERS) : undefined;
  // Then the graph transport beside SMTP, 1 MB and 30 MB (scripts/benchGraph.ts; BENCH_GRAPH=0 skips it).
  const graph = GRAPH_PHASE ? await measureGraph() : undefined;
  console.table(results);
  if (graph) console.table(graph);
  for (const measured of [limits, severalSenders]) {
    if (!measured) continue;
    console.log(
      `limits (${measured.processes} relay processes, ${measured.senders} mailbox(es), RELAY_LIMITS_SCOPE=app): ${measured.messages} messages in ${measured.seconds} s = ` +
        `${measured.messagesPerSecond}/s of ${measured.allowedPerSecond}/s allowed; throttling replies ${measured.throttlingReplies}; ` +
        `storage requests per message ${measured.storageRequestsPerMessage} (window ${measured.windowRequestsPerMessage}, connection slots ${measured.slotRequestsPerMessage}); ` +
        `${measured.connections} connections, ${measured.conflicts} lost races, ${measured.handedBack} hand-backs`,
    );
  }
  // Over the whole run (warm-up included): the token lifetime and the secret cache outlast it.
  console.log(`whole run: ${relayed} messages relayed with ${totals.tokenRequests} token request(s) and ${totals.vaultReads} Key Vault read(s)`);
  console.log(`loading all function modules in a fresh process (cold start, the app's share): ${round(loadMs)} ms`);
  console.log(formatRedactionWorstCase(redaction));
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    coldStartMs: round(loadMs),
    redactionWorstCase: redaction,
    totals: { messages: relayed, tokenRequests: totals.tokenRequests, vaultReads: totals.vaultReads },
    results,
    limits,
    severalSenders,
    graph,
  };
  console.log(`BENCH ${JSON.stringify(summary)}`);
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
