/**
 * npm run bench — the relay's own cost, measured side by side with plain
 * nodemailer in one run (the machines are noisy: compare ratios, not absolutes).
 *
 *   relay     Azurite queue → queue runner → relay handler (contract, ledger, throttle,
 *             pool, client secret from Key Vault) → the local SMTP server
 *   baseline  nodemailer, one pooled connection, XOAUTH2 with one token, the same messages
 *             straight to the same server
 *
 * The stack (Azurite, token endpoint, Key Vault double, SMTP server) runs in a child
 * process, so the CPU time and peak memory printed here are this process's: the
 * relay's, or the baseline's. Sizes: small text, 50 KB HTML, and a 1 MB attachment
 * (sent by reference as a blob: a queue message holds at most 64 KiB), the last in
 * batches of 32 for the memory figure. Output: a table, then one `BENCH {json}` line.
 *
 * Environment: BENCH_MESSAGES (default 300), BENCH_LARGE_MESSAGES (64),
 * BENCH_LATENCY_MESSAGES (100), BENCH_BATCH_SIZE (16).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { ClientSecretCredential } from '@azure/identity';
import { QueueClient } from '@azure/storage-queue';
import { loadConfig } from '../src/config';
import { createRelay, type Relay } from '../src/runtime';
import { silentLogger } from '../src/log';
import { QueueRunner } from '../local/queueRunner';
import { trustedCertificates } from '../src/token/trust';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const LARGE_MESSAGES = Number(process.env.BENCH_LARGE_MESSAGES ?? 64);
const LATENCY_MESSAGES = Number(process.env.BENCH_LATENCY_MESSAGES ?? 100);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 16);

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

const SIZES: Size[] = [
  // First, so its peak memory is not inflated by the heap the other sizes leave behind.
  {
    name: 'attachment1mb',
    count: LARGE_MESSAGES,
    batchSize: 32,
    queued: (i) => ({ to: 'bench@example.net', subject: `large ${i}`, text: 'See attachment.', attachments: [{ filename: 'data.bin', blob: ATTACHMENT_BLOB }] }),
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

interface Measure {
  messagesPerSecond: number;
  cpuMsPerMessage: number;
  peakRssMb: number;
  /** Resident memory when the phase starts (after a GC), to read the peak against. */
  idleRssMb: number;
}

/** Throughput, CPU time and peak resident memory while `work` runs (memory sampled every 20 ms). */
async function measured(count: number, work: () => Promise<void>): Promise<Measure> {
  (globalThis as { gc?: () => void }).gc?.();
  const idle = process.memoryUsage().rss;
  let peak = idle;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    if (process.env.BENCH_DEBUG_MEMORY && usage.rss > peak) console.error(JSON.stringify(Object.fromEntries(Object.entries(usage).map(([k, v]) => [k, Math.round(v / 2 ** 20)]))));
    peak = Math.max(peak, usage.rss);
  }, 20);
  const cpu = process.cpuUsage();
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { messagesPerSecond: count / seconds, cpuMsPerMessage: (used.user + used.system) / 1000 / count, peakRssMb: peak / 2 ** 20, idleRssMb: idle / 2 ** 20 };
}

interface Stack {
  settings: Record<string, string>;
  vaultReader: { tenantId: string; authorityHost: string; caPem: string; clientId: string; secret: string };
  stop(): void;
}

async function startStack(): Promise<Stack> {
  const child = spawn(process.execPath, [join(__dirname, 'benchStack.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench stack exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<Stack, 'stop'>), stop: () => child.stdin!.end() };
}

function runnerFor(relay: Relay, queue: QueueClient, batchSize: number, onDelivered: (payload: unknown) => void): QueueRunner {
  const connection = relay.config.queue.connection;
  if (connection.kind !== 'connectionString') throw new Error('the bench runs on Azurite');
  return new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection.connectionString, `${queue.name}-poison`),
    // Polling at most 100 ms apart, so the latency figures show the relay, not the poll interval.
    settings: { batchSize, newBatchThreshold: batchSize / 2, maxDequeueCount: 5, visibilityTimeoutSeconds: 30, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    handler: async (payload, delivery) => {
      const outcome = await relay.handleQueueMessage(payload, delivery, silentLogger);
      if (outcome.status !== 'delivered') throw new Error(`bench message not delivered: ${JSON.stringify(outcome)}`);
      onDelivered(payload);
    },
    logger: silentLogger,
  });
}

async function relayThroughput(relay: Relay, connection: string, size: Size): Promise<Measure> {
  const queue = new QueueClient(connection, `bench-${size.name}`);
  await queue.createIfNotExists();
  // Pre-filled queue: the figure is how fast the relay drains it.
  for (let i = 0; i < size.count; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, size.count - i) }, (_, k) => queue.sendMessage(JSON.stringify(size.queued(i + k)))));
  }
  let delivered = 0;
  let done!: () => void;
  const allDelivered = new Promise<void>((resolve) => (done = resolve));
  const runner = runnerFor(relay, queue, size.batchSize, () => ++delivered === size.count && done());
  const result = await measured(size.count, async () => {
    await runner.start();
    await allDelivered;
  });
  await runner.stop();
  return result;
}

async function relayLatency(relay: Relay, connection: string, size: Size): Promise<{ p50: number; p99: number }> {
  const queue = new QueueClient(connection, `bench-latency-${size.name}`);
  await queue.createIfNotExists();
  const enqueuedAt = new Map<string, number>();
  const latencies: number[] = [];
  const runner = runnerFor(relay, queue, size.batchSize, (payload) => {
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
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

async function baseline(relay: Relay, size: Size): Promise<Measure> {
  const { config } = relay;
  const token = await relay.tokens!.getToken();
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
  const result = await measured(size.count, async () => {
    await Promise.all(Array.from({ length: size.count }, (_, i) => send(i)));
  });
  transport.close();
  return result;
}

async function main(): Promise<void> {
  const stack = await startStack();
  const connection = stack.settings.AzureWebJobsStorage;
  const reader = stack.vaultReader;
  const vaultCredential = new ClientSecretCredential(reader.tenantId, reader.clientId, reader.secret, {
    authorityHost: reader.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: [reader.caPem] },
  });
  const relay = createRelay(loadConfig({ ...stack.settings, RELAY_QUEUE_NAME: 'bench' }), silentLogger, { vaultCredential });
  const attachments = relay.storage.blobs.getContainerClient(relay.config.queue.attachmentContainerName);
  await attachments.createIfNotExists();
  await attachments.getBlockBlobClient(ATTACHMENT_BLOB).uploadData(ATTACHMENT);
  const vaultReads = () => (relay.secrets as { stats?: { reads: number } } | undefined)?.stats?.reads ?? 0;
  // Warm up as the baseline does: secret, token, a pooled connection and the JIT, outside the timing.
  await relay.sender.send({ from: relay.config.mail.from, to: 'bench@example.net', subject: 'warm-up', text: 'x' });

  const results: Record<string, unknown>[] = [];
  let relayed = 1; // the warm-up
  try {
    for (const size of SIZES) {
      const before = { tokens: relay.tokens!.stats.fetches, vault: vaultReads(), connections: relay.sender.stats.connectionsOpened };
      const ours = await relayThroughput(relay, connection, size);
      const latency = await relayLatency(relay, connection, size);
      const handled = size.count + Math.min(LATENCY_MESSAGES, size.count);
      relayed += handled;
      const after = { tokens: relay.tokens!.stats.fetches, vault: vaultReads(), connections: relay.sender.stats.connectionsOpened };
      const base = await baseline(relay, size);
      results.push({
        size: size.name,
        messages: size.count,
        batch: size.batchSize,
        relayPerSecond: round(ours.messagesPerSecond),
        baselinePerSecond: round(base.messagesPerSecond),
        ratio: round(ours.messagesPerSecond / base.messagesPerSecond, 2),
        relayCpuMsPerMessage: round(ours.cpuMsPerMessage, 2),
        baselineCpuMsPerMessage: round(base.cpuMsPerMessage, 2),
        p50Ms: round(latency.p50),
        p99Ms: round(latency.p99),
        tokenRequestsPer1000: round(((after.tokens - before.tokens) * 1000) / handled, 2),
        vaultReadsPer1000: round(((after.vault - before.vault) * 1000) / handled, 2),
        smtpConnectionsOpened: after.connections - before.connections,
        relayIdleRssMb: round(ours.idleRssMb),
        relayPeakRssMb: round(ours.peakRssMb),
      });
    }
  } finally {
    await relay.close();
    stack.stop();
  }
  console.table(results);
  // Over the whole run (warm-up included): the token lifetime and the secret cache outlast it.
  const totals = { messages: relayed, tokenRequests: relay.tokens!.stats.fetches, vaultReads: vaultReads() };
  console.log(`whole run: ${totals.messages} messages relayed with ${totals.tokenRequests} token request(s) and ${totals.vaultReads} Key Vault read(s)`);
  console.log(`BENCH ${JSON.stringify({ date: new Date().toISOString(), node: process.version, totals, results })}`);
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
