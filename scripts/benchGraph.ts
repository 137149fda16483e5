/**
 * The benchmark's Graph phase (issue 15 point 6): the graph transport's throughput and
 * the relay worker's peak memory for 1 MB and 30 MB attachments, beside the SMTP path's,
 * on loopback. Graph is GraphMailDouble (local/doubles: a TEST DOUBLE of Graph's mail
 * endpoints, with the 4 MB request limit and upload sessions); SMTP is the local
 * Exchange-shaped server, its size limit raised for the 30 MB row (Exchange Online
 * refuses a 30 MB attachment over SMTP: base64 makes it about 41 MB, over its 35 MB).
 *
 * Each row is a fresh relay worker (scripts/benchRelayWorker.ts, the handler alone, its
 * CPU time and RSS sampled every 20 ms) handed queue messages whose attachment is a
 * claim-check blob, a few at a time: a 1 MB message goes in one sendMail request, a
 * 30 MB one as a draft, an upload session of 3 MiB PUTs and send. So the 30 MB row's
 * peak shows whether the worker streamed the attachment or held it.
 *
 * Environment: BENCH_GRAPH=0 skips the phase; BENCH_GRAPH_MESSAGES (1 MB messages per
 * row, default 32), BENCH_GRAPH_LARGE_MESSAGES (30 MB messages per row, default 4).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BlobServiceClient } from '@azure/storage-blob';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID } from '../local/stack';
import { LocalSmtpServer } from '../local/smtpServer';
import { GraphMailDouble } from '../local/doubles/graphMailDouble';
import { loadConfig } from '../src/settings';
import type { ProcessUsage } from './processUsage';
import type { VaultReader, WorkerStats } from './benchRelayWorker';

export const GRAPH_PHASE = process.env.BENCH_GRAPH !== '0';
const MESSAGES = Number(process.env.BENCH_GRAPH_MESSAGES ?? 32);
const LARGE_MESSAGES = Number(process.env.BENCH_GRAPH_LARGE_MESSAGES ?? 4);

const SIZES = [
  { name: '1mb', bytes: 2 ** 20, count: MESSAGES, inFlight: 4 },
  { name: '30mb', bytes: 30 * 2 ** 20, count: LARGE_MESSAGES, inFlight: 2 },
] as const;

export interface GraphBenchRow {
  transport: 'smtp' | 'graph';
  size: string;
  messages: number;
  messagesPerSecond: number;
  attachmentMbPerSecond: number;
  relayCpuMsPerMessage: number;
  relayIdleRssMb: number;
  relayPeakRssMb: number;
  /** Graph only: the upload PUTs the double took per message (0 for sendMail). */
  uploadPutsPerMessage?: number;
}

/** benchRelayWorker.js over IPC: { id, type, ...body } → { id, result | error }. */
class Worker {
  private next = 0;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: { id: number; result?: unknown; error?: string }) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiting?.reject(new Error(reply.error));
      else waiting?.resolve(reply.result);
    });
  }

  static async start(settings: Record<string, string>, vaultReader: VaultReader): Promise<Worker> {
    const worker = new Worker(fork(join(__dirname, 'benchRelayWorker.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await worker.call('start', { settings, vaultReader });
    return worker;
  }

  call<T = unknown>(type: string, body: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, type, ...body });
    });
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.call('close').catch(() => undefined);
    await exited;
  }
}

export async function measureGraph(): Promise<GraphBenchRow[]> {
  const stack = await startLocalStack({ inMemory: true });
  const tls = { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem };
  const graph = await GraphMailDouble.start({
    tls,
    verifyToken: async (token, audience) => {
      const result = await stack.tokenServer.verifyTokenForResource(token, audience);
      return result.ok ? result.claims : undefined;
    },
    mailboxes: [LOCAL_MAILBOX],
  });
  stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, ['Mail.Send', 'Mail.ReadWrite']);
  // A server that takes the 30 MB row (Exchange Online stops at 35 MB, encoded).
  const smtp = await LocalSmtpServer.start({
    tls,
    authorizedMailboxes: [LOCAL_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
    sizeLimit: 64 * 2 ** 20,
  });
  // The servers keep what they received for tests; the benchmark drops it.
  const drop = setInterval(() => {
    smtp.received.splice(0);
    graph.sent.splice(0);
  }, 500);
  const vaultReader: VaultReader = {
    tenantId: LOCAL_TENANT_ID,
    authorityHost: stack.tokenServer.url,
    caPem: stack.certs.caPem,
    clientId: LOCAL_CLIENT_ID,
    secret: '-',
  };
  const base = {
    ...stack.settings,
    SMTP_PORT: String(smtp.port),
    GRAPH_URL: graph.url,
    MAIL_MAX_ATTACHMENTS_MB: '40',
    RELAY_QUEUE_NAME: 'bench-graph',
    RELAY_LIMITS_SCOPE: 'instance',
  };
  const attachments = BlobServiceClient.fromConnectionString(base.AzureWebJobsStorage).getContainerClient(loadConfig(base).queue.attachmentContainerName);
  await attachments.createIfNotExists();
  for (const size of SIZES) await attachments.getBlockBlobClient(`bench/${size.name}.bin`).uploadData(Buffer.alloc(size.bytes, 'x'));

  const rows: GraphBenchRow[] = [];
  let serial = 0;
  try {
    for (const transport of ['smtp', 'graph'] as const) {
      for (const size of SIZES) {
        if (size.count <= 0) continue;
        const worker = await Worker.start({ ...base, RELAY_TRANSPORT: transport }, vaultReader);
        try {
          const putsBefore = graph.puts.length;
          const message = () => ({
            to: 'bench@example.net',
            subject: `graph bench ${transport} ${size.name} ${++serial}`,
            text: 'See attachment.',
            attachments: [{ filename: 'data.bin', blob: `bench/${size.name}.bin` }],
          });
          await worker.call('measureStart');
          const started = performance.now();
          let next = 0;
          const lane = async () => {
            while (next < size.count) {
              next += 1;
              const outcome = await worker.call<{ status: string }>('invoke', { payload: message(), delivery: { dequeueCount: 1 } });
              if (outcome.status !== 'delivered') throw new Error(`graph bench: ${transport} ${size.name} not delivered (${outcome.status})`);
            }
          };
          await Promise.all(Array.from({ length: size.inFlight }, lane));
          const seconds = (performance.now() - started) / 1000;
          const usage = await worker.call<ProcessUsage>('measureStop');
          await worker.call<WorkerStats>('stats');
          rows.push({
            transport,
            size: size.name,
            messages: size.count,
            messagesPerSecond: round(size.count / seconds, 2),
            attachmentMbPerSecond: round((size.count * size.bytes) / 2 ** 20 / seconds, 1),
            relayCpuMsPerMessage: round(usage.cpuMs / size.count, 1),
            relayIdleRssMb: round(usage.idleRssMb),
            relayPeakRssMb: round(usage.peakRssMb),
            ...(transport === 'graph' ? { uploadPutsPerMessage: round((graph.puts.length - putsBefore) / size.count, 1) } : {}),
          });
          graph.puts.splice(0);
        } finally {
          await worker.close();
        }
      }
    }
  } finally {
    clearInterval(drop);
    await smtp.close();
    await graph.close();
    await stack.close();
  }
  return rows;
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

// Alone (node build/scripts/benchGraph.js): the phase's table and its JSON line.
if (require.main === module) {
  measureGraph().then(
    (rows) => {
      console.table(rows);
      console.log(`BENCH_GRAPH ${JSON.stringify(rows)}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
