/**
 * The real Azurite storage emulator (queue + blob) as child processes of the
 * local run or the test process, on loopback ports that are free.
 *
 * Each service runs under a tiny watchdog: it keeps a pipe to us on stdin and
 * exits when that pipe closes, so Azurite dies with its parent even when the
 * parent is killed outright and no exit handler runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';

/** Azurite's fixed development account (public, documented by Microsoft). */
export const DEVSTORE_ACCOUNT = 'devstoreaccount1';
export const DEVSTORE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface LocalAzuriteOptions {
  /** Persistent data folder (local run); omitted = in memory (tests). */
  location?: string;
  queuePort?: number;
  blobPort?: number;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 4_000;

// Runs inside the child: exit when the parent's end of stdin closes, then hand over to Azurite's own main.
const WATCHDOG = [
  "process.stdin.on('end', () => process.exit(0));",
  "process.stdin.on('error', () => process.exit(0));",
  'process.stdin.resume();',
  // unref: the pipe must not keep Azurite alive after its own SIGTERM shutdown.
  'process.stdin.unref();',
  'require(process.argv[1]);',
].join(' ');

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export class LocalAzurite {
  private constructor(
    private readonly children: ChildProcess[],
    readonly queuePort: number,
    readonly blobPort: number,
  ) {}

  static async start(opts: LocalAzuriteOptions = {}): Promise<LocalAzurite> {
    installExitHook();
    // A busy port would look "ready" to the probe (someone else answers), so refuse it up front.
    for (const port of [opts.queuePort, opts.blobPort]) {
      if (port !== undefined && !(await isFree(port))) throw new Error(`Azurite: port 127.0.0.1:${port} is already in use`);
    }
    const [queuePort, blobPort] = [opts.queuePort ?? (await freePort()), opts.blobPort ?? (await freePort())];
    if (opts.location) await mkdir(opts.location, { recursive: true });
    const common = ['--skipApiVersionCheck', '--disableTelemetry', '--silent', '--loose'];
    common.push(...(opts.location ? ['--location', opts.location] : ['--inMemoryPersistence']));
    const cwd = opts.location ?? os.tmpdir();

    const children: ChildProcess[] = [];
    try {
      const queue = launch('queue', [...common, '--queueHost', '127.0.0.1', '--queuePort', String(queuePort)], cwd);
      children.push(queue.child);
      const blob = launch('blob', [...common, '--blobHost', '127.0.0.1', '--blobPort', String(blobPort)], cwd);
      children.push(blob.child);
      await Promise.all([waitForPort(queuePort, queue), waitForPort(blobPort, blob)]);
    } catch (error) {
      await Promise.all(children.map(stopChild));
      throw error;
    }
    return new LocalAzurite(children, queuePort, blobPort);
  }

  /** Process ids of the emulator children (for checks that they die with us). */
  get pids(): number[] {
    return this.children.map((child) => child.pid ?? 0);
  }

  get queueEndpoint(): string {
    return `http://127.0.0.1:${this.queuePort}/${DEVSTORE_ACCOUNT}`;
  }

  get blobEndpoint(): string {
    return `http://127.0.0.1:${this.blobPort}/${DEVSTORE_ACCOUNT}`;
  }

  /** What AzureWebJobsStorage takes. */
  get connectionString(): string {
    return (
      `DefaultEndpointsProtocol=http;AccountName=${DEVSTORE_ACCOUNT};AccountKey=${DEVSTORE_KEY};` +
      `BlobEndpoint=${this.blobEndpoint};QueueEndpoint=${this.queueEndpoint};`
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map(stopChild));
  }
}

interface Launched {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(service: 'queue' | 'blob', args: string[], cwd: string): Launched {
  const script = require.resolve(`azurite/dist/src/${service}/main.js`);
  // Same node binary as ours: Azurite 3.37 needs Node 22, the machine default may be older.
  const child = spawn(process.execPath, ['-e', WATCHDOG, script, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  // A forgotten stop() must not keep the parent alive; the exit hook and the watchdog clean up.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as net.Socket | null)?.unref?.();
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return { name: `azurite-${service}`, child, output: () => tail.trim(), exited };
}

/** Ready = the port accepts TCP connections (the SDK's retries would hide a dead emulator for minutes). */
async function waitForPort(port: number, launched: Launched): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitCode: number | null | undefined;
  void launched.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`${launched.name} exited (code ${exitCode}) before listening on ${port}: ${launched.output()}`);
    }
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${launched.name} did not listen on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms: ${launched.output()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** SIGTERM lets Azurite flush its metadata (persistent runs); SIGKILL if it lingers. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  child.stdin?.destroy();
  child.stdout?.destroy();
  child.stderr?.destroy();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}
