/**
 * npm run bench — the relay's own cost, measured side by side with plain
 * nodemailer in one run (the machines are noisy: compare ratios, not absolutes).
 *
 *   baseline  nodemailer, one pooled connection, XOAUTH2 with one token, straight to the SMTP server
 *   relay     Azurite queue → queue runner → relay handler (contract, ledger, throttle, pool) → the same server
 *
 * The stack (Azurite, token endpoint, SMTP server) runs in a child process so the
 * CPU time and peak memory printed here are this process's: the relay's or the
 * baseline's. Sizes: small text, 50 KB HTML, and a 1 MB attachment (claim-check
 * blob, since a queue message holds at most 64 KiB). Output: a table, then one
 * `BENCH {json}` line for scripts.
 *
 * Options (environment): BENCH_MESSAGES (default 300), BENCH_LATENCY_MESSAGES (100).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';
import { QueueClient } from '@azure/storage-queue';
import { loadConfig } from '../src/config';
import { createRelay, type Relay } from '../src/runtime';
import { silentLogger } from '../src/log';
import { QueueRunner } from '../local/queueRunner';
import { trustedCertificates } from '../src/token/trust';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const LATENCY_MESSAGES = Number(process.env.BENCH_LATENCY_MESSAGES ?? 100);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 16);

interface Size {
  name: string;
  message(i: number): Record<string, unknown>;
}

const html50k = `<html><body>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n'.repeat(820)}</body></html>`;
const SIZES: Size[] = [
  { name: 'small', message: (i) => ({ to: 'bench@example.net', subject: `small ${i}`, text: 'Hello from the benchmark.' }) },
  { name: 'html50k', message: (i) => ({ to: 'bench@example.net', subject: `html ${i}`, html: html50k }) },
];

interface Measure {
  messagesPerSecond: number;
  cpuMsPerMessage: number;
  peakRssMb: number;
}

/** Peak resident memory while `work` runs, sampled every 20 ms. */
async function measured(count: number, work: () => Promise<void>): Promise<Measure> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const cpu = process.cpuUsage();
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { messagesPerSecond: count / seconds, cpuMsPerMessage: (used.user + used.system) / 1000 / count, peakRssMb: peak / 2 ** 20 };
}

async function startStack(): Promise<{ settings: Record<string, string>; stop(): void }> {
  const child = spawn(process.execPath, [join(__dirname, 'benchStack.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench stack exited with ${code}`)));
  });
  return { settings: (JSON.parse(line) as { settings: Record<string, string> }).settings, stop: () => child.stdin!.end() };
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
  const send = (i: number) => {
    const { to, subject, text, html } = size.message(i) as { to: string; subject: string; text?: string; html?: string };
    return transport.sendMail({ from: config.mail.from, to, subject, text, html });
  };
  await send(-1); // connect and authenticate outside the timing, as the relay's warm pool does
  const result = await measured(MESSAGES, async () => {
    await Promise.all(Array.from({ length: MESSAGES }, (_, i) => send(i)));
  });
  transport.close();
  return result;
}

function runnerFor(relay: Relay, queue: QueueClient, connection: string, onDelivered: (payload: unknown) => void): QueueRunner {
  return new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection, `${queue.name}-poison`),
    // host.json's batch size; polling at most 100 ms apart so the latency figures show the relay, not the poll interval.
    settings: { batchSize: BATCH_SIZE, newBatchThreshold: BATCH_SIZE / 2, maxDequeueCount: 5, visibilityTimeoutSeconds: 30, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    handler: async (payload, delivery) => {
      const outcome = await relay.handleQueueMessage(payload, delivery, silentLogger);
      if (outcome.status !== 'delivered') throw new Error(`bench message not delivered: ${JSON.stringify(outcome)}`);
      onDelivered(payload);
    },
    logger: silentLogger,
  });
}

async function throughput(relay: Relay, connection: string, size: Size): Promise<Measure> {
  const queue = new QueueClient(connection, `bench-${size.name}`);
  await queue.createIfNotExists();
  // Pre-fill the queue: the figure is how fast the relay drains it.
  for (let i = 0; i < MESSAGES; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, MESSAGES - i) }, (_, k) => queue.sendMessage(JSON.stringify(size.message(i + k)))));
  }
  let delivered = 0;
  let done!: () => void;
  const allDelivered = new Promise<void>((resolve) => (done = resolve));
  const runner = runnerFor(relay, queue, connection, () => ++delivered === MESSAGES && done());
  const result = await measured(MESSAGES, async () => {
    await runner.start();
    await allDelivered;
  });
  await runner.stop();
  return result;
}

async function latency(relay: Relay, connection: string, size: Size): Promise<{ p50: number; p99: number }> {
  const queue = new QueueClient(connection, `bench-latency-${size.name}`);
  await queue.createIfNotExists();
  const enqueuedAt = new Map<string, number>();
  const latencies: number[] = [];
  const runner = runnerFor(relay, queue, connection, (payload) => {
    const subject = (payload as { subject: string }).subject;
    latencies.push(performance.now() - enqueuedAt.get(subject)!);
  });
  await runner.start();
  for (let i = 0; i < LATENCY_MESSAGES; i++) {
    const message = size.message(i);
    const sent = queue.sendMessage(JSON.stringify(message));
    await sent;
    enqueuedAt.set(message.subject as string, performance.now());
    await new Promise((resolve) => setTimeout(resolve, 50)); // a steady 20 messages/s, below capacity
  }
  while (latencies.length < LATENCY_MESSAGES) await new Promise((resolve) => setTimeout(resolve, 20));
  await runner.stop();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const stack = await startStack();
  const connection = stack.settings.AzureWebJobsStorage;
  const relay = createRelay(loadConfig({ ...stack.settings, RELAY_QUEUE_NAME: 'bench' }), silentLogger);
  const results: Record<string, unknown>[] = [];
  try {
    for (const size of SIZES) {
      const tokensBefore = relay.tokens!.stats.fetches;
      const connectionsBefore = relay.sender.stats.connectionsOpened;
      const base = await baseline(relay, size);
      const ours = await throughput(relay, connection, size);
      const lat = await latency(relay, connection, size);
      const handled = MESSAGES + LATENCY_MESSAGES;
      results.push({
        size: size.name,
        messages: MESSAGES,
        relayPerSecond: round(ours.messagesPerSecond),
        baselinePerSecond: round(base.messagesPerSecond),
        ratio: round(ours.messagesPerSecond / base.messagesPerSecond, 2),
        relayCpuMsPerMessage: round(ours.cpuMsPerMessage, 2),
        baselineCpuMsPerMessage: round(base.cpuMsPerMessage, 2),
        p50Ms: round(lat.p50),
        p99Ms: round(lat.p99),
        tokenRequestsPer1000: round(((relay.tokens!.stats.fetches - tokensBefore) * 1000) / handled, 2),
        smtpConnectionsOpened: relay.sender.stats.connectionsOpened - connectionsBefore,
        peakRssMb: round(Math.max(ours.peakRssMb, base.peakRssMb)),
      });
    }
  } finally {
    await relay.close();
    stack.stop();
  }
  console.table(results);
  console.log(`BENCH ${JSON.stringify({ date: new Date().toISOString(), node: process.version, results })}`);
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
