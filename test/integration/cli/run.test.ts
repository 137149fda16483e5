/**
 * `oauth2-smtp-relay run` as an operator starts it on a VM or in a container: the
 * package's bin in a child process, its settings in a local.settings.json, against
 * Azurite, the HTTPS token endpoint and the SMTP server of the local stack. It
 * delivers, prints health lines, stops on SIGTERM with the messages in flight
 * delivered and no ledger claim held, and exits with codes that say what went wrong.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { tempDir } from '../../support/localHelpers';
import { binPath, runCommand } from '../../support/command';

let stack: LocalStack;
let dir: string;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
  dir = await tempDir('relay-run-');
});
after(async () => {
  await stack?.close();
});

let counter = 0;
/** Settings of one test: its own queues and ledger on the stack's storage account. */
function settingsFor(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...stack.settings,
    RELAY_QUEUE_NAME: `run-${name}`,
    RELAY_DEADLETTER_QUEUE_NAME: `run-${name}-deadletter`,
    RELAY_DEADLETTER_CONTAINER: `run-${name}-deadletter`,
    RELAY_LEDGER_CONTAINER: `run-${name}-ledger`,
    ...extra,
  };
}

function writeJson(name: string, value: unknown): string {
  const file = join(dir, `${++counter}-${name}`);
  writeFileSync(file, JSON.stringify(value, null, 2), { mode: 0o600 });
  return file;
}

const settingsFile = (values: Record<string, string>) => writeJson('local.settings.json', { IsEncrypted: false, Values: values });

/** host.json with the queue semantics a test needs (the package's own is read unless --host-json). */
function hostJson(queues: Record<string, unknown>): string {
  return writeJson('host.json', {
    version: '2.0',
    extensions: { queues: { maxDequeueCount: 5, visibilityTimeout: '00:00:00', maxPollingInterval: '00:00:01', messageEncoding: 'none', ...queues } },
  });
}

interface Worker {
  child: ChildProcessWithoutNullStreams;
  events: Array<Record<string, unknown>>;
  readonly output: () => string;
  exited: Promise<number | null>;
  waitFor(event: string, match?: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function startWorker(args: string[]): Worker {
  const child = spawn(process.execPath, [binPath(), 'run', ...args], { env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.event === 'string') events.push(parsed);
      } catch {
        // not a JSON line
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  return {
    child,
    events,
    output,
    exited,
    waitFor: (event, match = () => true) => until(() => events.find((line) => line.event === event && match(line)), `the "${event}" line`, output),
  };
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, output = () => '', timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function enqueue(settings: Record<string, string>, count: number, subject: string): Promise<QueueClient> {
  const queue = new QueueClient(settings.AzureWebJobsStorage!, settings.RELAY_QUEUE_NAME!);
  await queue.createIfNotExists();
  for (let i = 1; i <= count; i++)
    await queue.sendMessage(JSON.stringify({ id: `${subject}-${i}`, to: 'someone@example.net', subject: `${subject} ${i}`, text: 'hello' }));
  return queue;
}

const receivedWith = (subject: string) => stack.smtpServer.received.filter((message) => message.raw.toString('utf8').includes(`Subject: ${subject} `));

/** Every entry of the ledger container, by state. */
async function ledgerStates(settings: Record<string, string>): Promise<string[]> {
  const container = BlobServiceClient.fromConnectionString(settings.AzureWebJobsStorage!).getContainerClient(settings.RELAY_LEDGER_CONTAINER!);
  const states: string[] = [];
  if (!(await container.exists())) return states;
  for await (const blob of container.listBlobsFlat()) {
    const body = await container.getBlobClient(blob.name).downloadToBuffer();
    states.push((JSON.parse(body.toString('utf8')) as { state: string }).state);
  }
  return states.sort();
}

test('run delivers queued messages, prints a JSON health line at the interval, and stops cleanly on SIGTERM', async () => {
  const settings = settingsFor('deliver');
  await enqueue(settings, 2, 'Plain worker');
  const worker = startWorker(['--settings', settingsFile(settings), '--health-interval', '1']);
  try {
    const started = await worker.waitFor('started');
    assert.equal(started.queue, 'run-deliver');
    assert.equal(started.batchSize, 4, "the package's host.json");
    await until(() => receivedWith('Plain worker').length === 2, 'both messages', worker.output);
    const health = await worker.waitFor('health', (line) => line.delivered === 2);
    assert.deepEqual(
      { inFlight: health.inFlight, retried: health.retried, deadLettered: health.deadLettered, throttled: health.throttled, queueDepth: health.queueDepth },
      { inFlight: 0, retried: 0, deadLettered: 0, throttled: 0, queueDepth: 0 },
    );
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
    const stopped = await worker.waitFor('stopped');
    assert.equal(stopped.finished, true);
    assert.equal(stopped.delivered, 2);
    assert.ok(!worker.output().includes(settings.OAUTH2_CLIENT_SECRET!), 'the client secret was printed');
  } finally {
    worker.child.kill('SIGKILL');
  }
});

test('SIGTERM mid-batch: the messages in flight are delivered within the grace, no ledger claim stays held, the rest stays queued, exit 0', async () => {
  const settings = settingsFor('sigterm');
  const queue = await enqueue(settings, 5, 'Mid batch');
  // One batch of three, and no next batch while any of it is in flight; the server holds one DATA reply.
  const host = hostJson({ batchSize: 3, newBatchThreshold: 0 });
  stack.smtpServer.failNext('data', { stallMs: 3000 });
  const worker = startWorker(['--settings', settingsFile(settings), '--host-json', host, '--grace-seconds', '30', '--no-monitor']);
  try {
    const started = await worker.waitFor('started');
    assert.equal(started.batchSize, 3, 'the --host-json file');
    await until(async () => (await ledgerStates(settings)).includes('sending'), 'a claimed message in flight', worker.output);
    worker.child.kill('SIGTERM');
    const stopping = await worker.waitFor('stopping');
    assert.ok(Number(stopping.inFlight) >= 1, `in flight at SIGTERM: ${JSON.stringify(stopping)}`);
    assert.equal(await worker.exited, 0, worker.output());
  } finally {
    worker.child.kill('SIGKILL');
  }
  assert.equal(receivedWith('Mid batch').length, 3, 'the batch in flight was delivered');
  assert.deepEqual(await ledgerStates(settings), ['sent', 'sent', 'sent'], 'no claim left held');
  assert.equal((await queue.getProperties()).approximateMessagesCount, 2, 'the rest is still queued');
  const stopped = await worker.waitFor('stopped');
  assert.deepEqual({ finished: stopped.finished, delivered: stopped.delivered, inFlight: stopped.inFlight }, { finished: true, delivered: 3, inFlight: 0 });
});

test('the grace runs out: exit 1, and the message is left to its ledger lease; a second signal exits at once with 143', async () => {
  const settings = settingsFor('grace', { RELAY_LEDGER_LEASE_SECONDS: '5' });
  await enqueue(settings, 1, 'Slow');
  stack.smtpServer.failNext('data', { stallMs: 6000 });
  const worker = startWorker(['--settings', settingsFile(settings), '--grace-seconds', '1', '--no-monitor']);
  try {
    await until(async () => (await ledgerStates(settings)).includes('sending'), 'the message in flight', worker.output);
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 1, worker.output());
    assert.match(worker.output(), /grace period \(1 s\) ran out with 1 message\(s\) in flight.*RELAY_LEDGER_LEASE_SECONDS \(5 s\)/s);
  } finally {
    worker.child.kill('SIGKILL');
  }

  const again = settingsFor('second-signal');
  await enqueue(again, 1, 'Twice');
  stack.smtpServer.failNext('data', { stallMs: 6000 });
  const second = startWorker(['--settings', settingsFile(again), '--no-monitor']);
  try {
    await until(async () => (await ledgerStates(again)).includes('sending'), 'the message in flight', second.output);
    second.child.kill('SIGTERM');
    await second.waitFor('stopping');
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 143, second.output());
  } finally {
    second.child.kill('SIGKILL');
  }
});

test('invalid settings: exit 3 with every problem listed, nothing started', async () => {
  const settings = settingsFor('invalid', { SMTP_PORT: 'twenty-five', MAIL_FROM: 'not an address', RELAY_QUEUE_NAME: 'Bad_Queue' });
  const result = await runCommand(['run', '--settings', settingsFile(settings)]);
  assert.equal(result.status, 3, result.stderr);
  for (const name of ['SMTP_PORT', 'MAIL_FROM', 'RELAY_QUEUE_NAME'])
    assert.match(result.stderr, new RegExp(`- ${name}: `), `${name} listed:\n${result.stderr}`);
  assert.match(result.stderr, /Invalid relay configuration \(3 problems\)/);
  assert.doesNotMatch(result.stdout, /"event":"started"/);
});

test('storage unreachable at start: exit 4 naming the queue and the fix', async () => {
  const closed = createServer();
  await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
  const { port } = closed.address() as { port: number };
  await new Promise((done) => closed.close(done));
  const connection = stack.settings.AzureWebJobsStorage.replace(/QueueEndpoint=http:\/\/127\.0\.0\.1:\d+/, `QueueEndpoint=http://127.0.0.1:${port}`);
  const result = await runCommand(['run', '--settings', settingsFile(settingsFor('unreachable', { AzureWebJobsStorage: connection }))]);
  assert.equal(result.status, 4, result.stderr);
  assert.match(result.stderr, /Cannot reach the queue "run-unreachable"/);
});

test('usage: a bad option value exits 2 with the usage text', async () => {
  const result = await runCommand(['run', '--grace-seconds', 'soon']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--grace-seconds: "soon" is not a whole number/);
  assert.match(result.stderr, /oauth2-smtp-relay run \[--settings/);
});

test("the secret monitor's timer runs on MONITOR_SCHEDULE: its state is written and the SMTP connection pre-warmed, with no message queued", async () => {
  const settings = settingsFor('monitor', { MONITOR_SCHEDULE: '*/1 * * * * *', MONITOR_STATE_CONTAINER: 'run-monitor-state' });
  const state = BlobServiceClient.fromConnectionString(settings.AzureWebJobsStorage!).getContainerClient('run-monitor-state');
  const loginsBefore = stack.smtpServer.authAttempts;
  const worker = startWorker(['--settings', settingsFile(settings)]);
  try {
    const started = await worker.waitFor('started');
    assert.equal(started.monitorSchedule, '*/1 * * * * *');
    await until(async () => (await state.exists()) && (await state.listBlobsFlat().next()).value !== undefined, 'the monitor state', worker.output);
    await until(() => stack.smtpServer.authAttempts > loginsBefore, 'the SMTP pre-warm', worker.output);
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
  } finally {
    worker.child.kill('SIGKILL');
  }
});

test("stopping releases the mailbox's connection slots: another instance need not wait for their leases to run out", async () => {
  const settings = settingsFor('slots', { RELAY_LIMITS_SCOPE: 'app', RELAY_COORDINATION_CONTAINER: 'run-slots-coordination' });
  await enqueue(settings, 2, 'Slot release');
  const worker = startWorker(['--settings', settingsFile(settings)]);
  try {
    await worker.waitFor('started');
    await until(() => receivedWith('Slot release').length === 2, 'both messages', worker.output);
    const container = BlobServiceClient.fromConnectionString(settings.AzureWebJobsStorage!).getContainerClient('run-slots-coordination');
    const slotStates = async () => {
      const states: string[] = [];
      for await (const blob of container.listBlobsFlat()) if (/\/slot-\d+$/.test(blob.name)) states.push(blob.properties.leaseState ?? 'unknown');
      return states;
    };
    assert.ok((await slotStates()).includes('leased'), 'the worker sent under a leased slot');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
    // The slot leases last 60 s: a slot still leased right after the exit would keep other instances waiting.
    const states = await slotStates();
    assert.ok(states.length > 0, 'slot blobs exist');
    assert.deepEqual(
      states.filter((state) => state !== 'available' && state !== 'broken'),
      [],
      `slot lease states after exit: ${states.join(', ')}`,
    );
  } finally {
    worker.child.kill('SIGKILL');
  }
});
