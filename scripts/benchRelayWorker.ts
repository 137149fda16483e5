/**
 * The relay in a process of its own, for the benchmark, the way Azure Functions
 * runs it: the host (here the benchmark's queue runner, in the parent) polls the
 * queue, parses its XML and deletes messages; this worker only loads the app and
 * runs the handler for each message it is handed (over IPC, as the host hands
 * them over gRPC). So the CPU time and memory measured here are the relay's own.
 *
 * Requests arrive as { id, type, ...body } and are answered with { id, result }
 * or { id, error }.
 */
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { ClientSecretCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { loadConfig } from '../src/settings';
import { relayOf, type Relay } from '../src/app/relay';
import { createRelayComponents, type RelayComponents } from '../src/app/components';
import { silentLogger } from '../src/core/log';
import type { QueueDelivery } from '../src/delivery/ports';
import { functionModules } from './functionModules';
import { startMeasuring, type ProcessUsage } from './processUsage';
import { StorageRequestCounter, storagePorts, type CountedOperation, type StorageRoles } from './storageOperations';

export interface VaultReader {
  tenantId: string;
  authorityHost: string;
  caPem: string;
  clientId: string;
  secret: string;
}

export interface WorkerStarted {
  /** The memory limit the worker runs under, or null for none below the machine's memory. */
  memoryLimitMb: number | null;
  /** The V8 heap limit Node chose from that memory (the young generation is sized with it). */
  heapLimitMb: number;
}

export interface WorkerStats {
  tokenRequests: number;
  vaultReads: number;
  smtpConnectionsOpened: number;
}

/** What a measured stretch cost the worker: its CPU and memory, and the storage requests it sent. */
export interface WorkerUsage extends ProcessUsage {
  storage: CountedOperation[];
}

type Request =
  | { id: number; type: 'start'; settings: Record<string, string>; vaultReader: VaultReader; storageRoles: StorageRoles }
  | { id: number; type: 'invoke'; payload: unknown; delivery: QueueDelivery }
  | { id: number; type: 'storageRequestCpu'; requests: number }
  | { id: number; type: 'token' | 'stats' | 'measureStart' | 'measureStop' | 'close' };

/**
 * Loads every function module, as the Functions worker does at start, so the memory
 * measured includes them. Outside the host @azure/functions skips the registrations
 * and says so on the console; those notices are not the benchmark's output.
 * They come from build/, the tree this worker's relay (build/src) comes from, so the
 * process holds one copy of the relay, as the host does.
 */
function loadFunctionModules(): void {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads the compiled registrations by path, as the host does (a module list, not an import)
    for (const file of functionModules('build')) require(file);
  } finally {
    console.warn = warn;
  }
}

let relay: (Relay & { parts: RelayComponents }) | undefined;
let stopMeasuring: (() => ProcessUsage) | undefined;
/** Every request this process sends to Azurite is the relay's (the host's part runs in the parent). */
let storageRequests: StorageRequestCounter | undefined;
let storageConnection = '';

/**
 * CPU time of one storage request the way the ledger makes them (a conditional Put Blob of a
 * small JSON entry: create if absent, then replace if unchanged), through the same SDK:
 * the benchmark's allowance for the ledger's share of the relay's CPU per message.
 */
let requestCpuRounds = 0;
async function storageRequestCpuMs(requests: number): Promise<number> {
  const round = ++requestCpuRounds;
  const container = BlobServiceClient.fromConnectionString(storageConnection).getContainerClient('bench-request-cpu');
  await container.createIfNotExists();
  const entry = JSON.stringify({ schema: 'bench', state: 'claimed', at: new Date().toISOString(), attempt: 1 });
  const pairs = Math.max(1, Math.floor(requests / 2));
  const cpu = process.cpuUsage();
  for (let i = 0; i < pairs; i++) {
    const blob = container.getBlockBlobClient(`entries/${process.pid}-${round}-${i}.json`);
    const created = await blob.upload(entry, entry.length, { conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: 'application/json' } });
    await blob.upload(entry, entry.length, { conditions: { ifMatch: created.etag }, blobHTTPHeaders: { blobContentType: 'application/json' } });
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / (pairs * 2);
}

const started = (): Relay & { parts: RelayComponents } => {
  if (!relay) throw new Error('the worker has not been started');
  return relay;
};

async function handle(request: Request): Promise<unknown> {
  switch (request.type) {
    case 'start': {
      loadFunctionModules();
      const { vaultReader } = request;
      storageConnection = request.settings.AzureWebJobsStorage ?? '';
      storageRequests = new StorageRequestCounter(storagePorts(storageConnection), request.storageRoles, () => 'relay');
      const vaultCredential = new ClientSecretCredential(vaultReader.tenantId, vaultReader.clientId, vaultReader.secret, {
        authorityHost: vaultReader.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: [vaultReader.caPem] },
      });
      const parts = createRelayComponents(loadConfig(request.settings), silentLogger, { vaultCredential });
      relay = Object.assign(relayOf(parts), { parts });
      // Warm, as an instance is after its first message: secret, token, a pooled connection, the JIT.
      await parts.sender.send({ from: relay.config.mail.from, to: 'bench@example.net', subject: 'warm-up', text: 'x' });
      // What Node sized V8's heap for: its memory limit (cgroup), if below the machine's memory.
      const limit = process.constrainedMemory();
      const started: WorkerStarted = {
        memoryLimitMb: limit > 0 && limit < totalmem() ? Math.round(limit / 2 ** 20) : null,
        heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
      };
      return started;
    }
    case 'invoke': {
      const outcome = await started().handleQueueMessage(request.payload, request.delivery, silentLogger);
      return { status: outcome.status };
    }
    case 'token': {
      // For the baseline's nodemailer, which sends with the same token.
      const token = await started().parts.tokens!.getToken();
      return { token: token.token, expiresOnTimestamp: token.expiresOnTimestamp };
    }
    case 'stats': {
      const current = started().parts;
      const secrets = current.secrets as { stats?: { reads: number } } | undefined;
      const stats: WorkerStats = {
        tokenRequests: current.tokens!.stats.fetches,
        vaultReads: secrets?.stats?.reads ?? 0,
        smtpConnectionsOpened: current.sender.stats.connectionsOpened,
      };
      return stats;
    }
    case 'measureStart':
      storageRequests?.reset();
      stopMeasuring = startMeasuring();
      return null;
    case 'measureStop': {
      if (!stopMeasuring) throw new Error('not measuring');
      const usage: WorkerUsage = { ...stopMeasuring(), storage: storageRequests?.snapshot() ?? [] };
      stopMeasuring = undefined;
      return usage;
    }
    case 'storageRequestCpu':
      return storageRequestCpuMs(request.requests);
    case 'close':
      await relay?.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    (result) => process.send!({ id: request.id, result }),
    (error: unknown) => process.send!({ id: request.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
// The parent went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
