/**
 * The benchmark's limits phase: several relay processes (scripts/benchLimitsWorker.ts)
 * send as one mailbox to a local SMTP server that enforces Exchange Online's
 * per-mailbox limits over all connections, scaled down (2 connections, 10 messages
 * per 5 s, 50 recipients per 30 s "day"), with RELAY_LIMITS_SCOPE=app. Measured: the
 * aggregate throughput against the rate the limit allows, the server's throttling
 * replies (must be 0) and the coordination storage requests per message (the
 * connection slots' apart), as the coordinators count them.
 *
 * With `senders` > 1 the same processes serve several mailboxes (RELAY_SENDERS, each its own app
 * registration and the same scaled-down limits, which the server enforces per mailbox), the
 * messages split evenly between them: the limit then allows that many times the rate.
 *
 * Environment: BENCH_LIMITS_MESSAGES (default 60 per mailbox; 0 skips the phase), BENCH_LIMITS_PROCESSES (3),
 * BENCH_LIMITS_SENDERS (2, the several-senders run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QueueClient } from '@azure/storage-queue';
import { randomBytes } from 'node:crypto';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID } from '../local/stack';
import { LocalSmtpServer } from '../local/smtpServer';
import type { CoordinationStats } from '../src/throttle/sendingWindow';

export const LIMITS_MESSAGES = Number(process.env.BENCH_LIMITS_MESSAGES ?? 60);
const PROCESSES = Number(process.env.BENCH_LIMITS_PROCESSES ?? 3);
export const LIMITS_SENDERS = Number(process.env.BENCH_LIMITS_SENDERS ?? 2);
const LIMITS = { connections: 2, messages: 10, windowSeconds: 5, recipientsPerDay: 50, daySeconds: 30 };

export interface LimitsMeasure {
  processes: number;
  /** Mailboxes (senders) the processes send as. */
  senders: number;
  /** Messages the server accepted for each mailbox, the default sender's first. */
  deliveredPerMailbox: number[];
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  /** What the rate limit allows at most (its window plus the counting margin). */
  allowedPerSecond: number;
  throttlingReplies: number;
  storageRequestsPerMessage: number;
  slotRequestsPerMessage: number;
  windowRequestsPerMessage: number;
  connections: number;
  conflicts: number;
  handedBack: number;
}

/** The extra senders' mailboxes and app registrations (the first mailbox is the stack's default sender). */
function extraSenders(count: number): Array<{ id: string; mailbox: string; clientId: string; secret: string }> {
  return Array.from({ length: count - 1 }, (_, index) => ({
    id: `bench${index + 2}`,
    mailbox: `bench${index + 2}@example.com`,
    clientId: `5e4d0000-0000-4000-8000-${String(index + 2).padStart(12, '0')}`,
    secret: `bench~${randomBytes(18).toString('base64url')}`,
  }));
}

export async function measureLimits(senderCount = 1): Promise<LimitsMeasure> {
  const stack = await startLocalStack({ inMemory: true });
  const extra = extraSenders(senderCount);
  const mailboxes = [LOCAL_MAILBOX, ...extra.map((one) => one.mailbox)];
  const messages = LIMITS_MESSAGES * mailboxes.length;
  for (const one of extra) stack.tokenServer.setClientSecret(one.clientId, one.secret);
  const server = await LocalSmtpServer.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    authorizedMailboxes: mailboxes,
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
    maxConnections: LIMITS.connections,
    rateLimit: { messages: LIMITS.messages, windowMs: LIMITS.windowSeconds * 1000 },
  });
  // One recipient each, within the budget: the phase measures the rate, not the wait for a new day.
  for (const mailbox of mailboxes) server.limitMailbox(mailbox, { recipientsPerDay: LIMITS.recipientsPerDay * 100, dayMs: LIMITS.daySeconds * 1000 });
  // Each app may sign in to its own mailbox only; each sender's limits are the default's (RELAY_SENDERS limits).
  if (extra.length > 0) {
    server.grantMailboxes(LOCAL_CLIENT_ID, [LOCAL_MAILBOX]);
    for (const one of extra) server.grantMailboxes(one.clientId, [one.mailbox]);
  }
  const senders = extra.map((one) => ({
    id: one.id,
    mailbox: one.mailbox,
    clientId: one.clientId,
    tenant: LOCAL_TENANT_ID,
    authorityHost: stack.tokenServer.url,
    credential: { secretSetting: `${one.id.toUpperCase()}_SECRET` },
    limits: { connections: LIMITS.connections, messagesPerMinute: LIMITS.messages, recipientsPerDay: LIMITS.recipientsPerDay * 100 },
  }));
  const settings = {
    ...stack.settings,
    SMTP_PORT: String(server.port),
    RELAY_QUEUE_NAME: 'bench-limits',
    RELAY_LIMITS_SCOPE: 'app',
    SMTP_POOL_SIZE: String(LIMITS.connections),
    SMTP_RATE_LIMIT_PER_MINUTE: String(LIMITS.messages),
    SMTP_RATE_LIMIT_WINDOW_SECONDS: String(LIMITS.windowSeconds),
    SMTP_DAILY_RECIPIENT_LIMIT: String(LIMITS.recipientsPerDay * 100),
    SMTP_DAILY_RECIPIENT_WINDOW_SECONDS: String(LIMITS.daySeconds),
    SMTP_RATE_LIMIT_MAX_WAIT_SECONDS: '10',
    RELAY_RETRY_FIRST_DELAY_SECONDS: '1',
    RELAY_RETRY_MAX_DELAY_SECONDS: '2',
    ...(senders.length > 0 ? { RELAY_SENDERS: JSON.stringify(senders) } : {}),
    ...Object.fromEntries(extra.map((one) => [`${one.id.toUpperCase()}_SECRET`, one.secret])),
  };
  const queue = new QueueClient(settings.AzureWebJobsStorage, settings.RELAY_QUEUE_NAME);
  await queue.createIfNotExists();
  const senderIds = ['default', ...extra.map((one) => one.id)];
  for (let i = 0; i < messages; i++) {
    const sender = senderIds[i % senderIds.length]!;
    await queue.sendMessage(JSON.stringify({ id: `limits-${i}`, sender, to: `limits${i}@example.net`, subject: `limits ${i}`, text: 'x' }));
  }

  const latest = new Map<number, { coordination?: CoordinationStats; delivered: number }>();
  const workers: ChildProcess[] = [];
  const started = performance.now();
  for (let i = 0; i < PROCESSES; i++) {
    const worker = spawn(process.execPath, [join(__dirname, 'benchLimitsWorker.js')], {
      env: { ...process.env, RELAY_SETTINGS_JSON: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: worker.stdout }).on('line', (line) => {
      if (line.startsWith('STATS ')) latest.set(i, JSON.parse(line.slice(6)) as { coordination?: CoordinationStats; delivered: number });
    });
    workers.push(worker);
  }
  try {
    const deadline = Date.now() + 600_000;
    while (server.received.length < messages) {
      if (Date.now() > deadline) throw new Error(`limits phase: ${server.received.length} of ${messages} messages delivered`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 400)); // the workers' last figures
    const total = (key: keyof CoordinationStats) => [...latest.values()].reduce((sum, stats) => sum + (stats.coordination?.[key] ?? 0), 0);
    const perMessage = (value: number) => Math.round((value / messages) * 100) / 100;
    const windowMs = LIMITS.windowSeconds * 1000;
    return {
      processes: PROCESSES,
      senders: mailboxes.length,
      deliveredPerMailbox: mailboxes.map((mailbox) => server.received.filter((message) => message.user.toLowerCase() === mailbox).length),
      messages,
      seconds: Math.round(seconds * 10) / 10,
      messagesPerSecond: Math.round((messages / seconds) * 100) / 100,
      allowedPerSecond: Math.round(((mailboxes.length * LIMITS.messages) / ((windowMs + Math.min(2000, windowMs / 4)) / 1000)) * 100) / 100,
      throttlingReplies: server.rateRejections + server.connectionRejections + server.quotaRejections,
      storageRequestsPerMessage: perMessage(total('requests')),
      slotRequestsPerMessage: perMessage(total('slotRequests')),
      windowRequestsPerMessage: perMessage(total('requests') - total('slotRequests')),
      connections: total('leases'),
      conflicts: total('conflicts'),
      handedBack: total('deferred'),
    };
  } finally {
    for (const worker of workers) worker.kill('SIGKILL');
    await server.close();
    await stack.close();
  }
}
