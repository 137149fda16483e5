/**
 * What the benchmark counts as storage requests: every HTTP request a process
 * sends to Azurite's queue or blob endpoint, each named by its REST operation
 * (Put Message, Get Messages, Put Blob, Lease Blob …) and by what it touches
 * (the relay's queue, the ledger, the attachment container, the throttle's window
 * …). Counted in the process that sends them, from Node's `http.client.request.start`
 * diagnostics channel (every request the Azure SDK makes, retries included, goes
 * through node:http), so the count needs no proxy in the path: the request takes
 * the route it takes in Azure and the figures measured beside it stay unchanged.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

export type StorageService = 'queue' | 'blob';

export interface StorageOperation {
  service: StorageService;
  /** What the request touches: a role ("ledger", "relay queue", "throttle window" …), else the queue or container name. */
  target: string;
  /** The REST operation, as Azure Storage's documentation and price list name it. */
  operation: string;
}

export interface CountedOperation extends StorageOperation {
  /** Who sent it: "relay" (the worker), "host" (the queue runner), "producer" (queueing the messages, set-up). */
  actor: string;
  count: number;
}

/** Roles of the queues and containers by name (e.g. the ledger container's name → "ledger"). */
export type StorageRoles = Readonly<Record<string, string>>;

/**
 * The REST operation of a request to Azurite, from its method and target (path and
 * query, as sent: `/<account>/<queue or container>[/…]?…`).
 */
export function storageOperation(service: StorageService, method: string, url: string, roles: StorageRoles = {}): StorageOperation {
  const [path = '', query = ''] = url.split('?', 2);
  const parameters = new URLSearchParams(query);
  const comp = parameters.get('comp');
  // Path segments after the account: the queue or container, then messages/<id> or the blob's name.
  const [, , name = '', ...rest] = path.split('/').map((segment) => decodeURIComponent(segment));
  const role = roles[name] ?? name;
  if (service === 'queue') return { service, target: role || 'account', operation: queueOperation(method, rest, comp, parameters) };
  const blob = rest.join('/');
  return { service, target: blob ? blobTarget(role, blob) : role || 'account', operation: blobOperation(method, blob, comp, parameters.get('restype')) };
}

function queueOperation(method: string, rest: string[], comp: string | null, parameters: URLSearchParams): string {
  if (rest[0] === 'messages') {
    const one = rest.length > 1;
    if (method === 'POST') return 'Put Message';
    if (method === 'GET') return parameters.get('peekonly') === 'true' ? 'Peek Messages' : 'Get Messages';
    if (method === 'DELETE') return one ? 'Delete Message' : 'Clear Messages';
    if (method === 'PUT' && one) return 'Update Message';
  } else if (rest.length === 0) {
    if (comp === 'list') return 'List Queues';
    if (comp === 'metadata') return method === 'PUT' ? 'Set Queue Metadata' : 'Get Queue Metadata';
    if (comp === 'acl') return method === 'PUT' ? 'Set Queue ACL' : 'Get Queue ACL';
    if (method === 'PUT') return 'Create Queue';
    if (method === 'DELETE') return 'Delete Queue';
  }
  return `${method} ${comp ?? 'other'}`;
}

function blobOperation(method: string, blob: string, comp: string | null, restype: string | null): string {
  if (!blob) {
    if (comp === 'list') return restype === 'container' ? 'List Blobs' : 'List Containers';
    if (restype === 'container' && comp === 'lease') return 'Lease Container';
    if (restype === 'container' && method === 'PUT' && comp === null) return 'Create Container';
    if (restype === 'container' && method === 'DELETE') return 'Delete Container';
    if (restype === 'container') return 'Get Container Properties';
    return `${method} ${comp ?? 'other'}`;
  }
  const byComp: Record<string, Record<string, string>> = {
    lease: { PUT: 'Lease Blob' },
    block: { PUT: 'Put Block' },
    blocklist: { PUT: 'Put Block List', GET: 'Get Block List' },
    metadata: { PUT: 'Set Blob Metadata', GET: 'Get Blob Metadata', HEAD: 'Get Blob Metadata' },
    properties: { PUT: 'Set Blob Properties' },
    tags: { PUT: 'Set Blob Tags', GET: 'Get Blob Tags' },
  };
  if (comp !== null) return byComp[comp]?.[method] ?? `${method} ${comp}`;
  if (method === 'PUT') return 'Put Blob';
  if (method === 'GET') return 'Get Blob';
  if (method === 'HEAD') return 'Get Blob Properties';
  if (method === 'DELETE') return 'Delete Blob';
  return `${method} blob`;
}

/** The throttle's blobs by their names in the coordination container (src/throttle: window.json, slot-<n>). */
function blobTarget(role: string, blob: string): string {
  if (role !== 'coordination') return role;
  if (blob.endsWith('/window.json')) return 'throttle window';
  if (/\/slot-\d+$/.test(blob)) return 'connection slot';
  return role;
}

/** `{service, target, operation, actor}` as one map key, and back. */
const keyOf = (actor: string, operation: StorageOperation) => JSON.stringify([actor, operation.service, operation.target, operation.operation]);

/**
 * Counts this process's requests to Azurite's queue and blob ports until closed.
 * `actorOf` tells who sent a request (e.g. by the User-Agent prefix a client was given).
 */
export class StorageRequestCounter {
  private counts = new Map<string, number>();
  private readonly onRequest = (message: unknown) => this.count((message as { request: ClientRequest }).request);

  constructor(
    private readonly endpoints: { queuePort: number; blobPort: number },
    private readonly roles: StorageRoles,
    private readonly actorOf: (userAgent: string) => string,
  ) {
    subscribe('http.client.request.start', this.onRequest);
  }

  /** The requests counted since the last reset, most frequent first. */
  snapshot(): CountedOperation[] {
    return [...this.counts]
      .map(([key, count]) => {
        const [actor, service, target, operation] = JSON.parse(key) as [string, StorageService, string, string];
        return { actor, service, target, operation, count };
      })
      .sort((a, b) => b.count - a.count);
  }

  reset(): void {
    this.counts = new Map();
  }

  close(): void {
    unsubscribe('http.client.request.start', this.onRequest);
  }

  private count(request: ClientRequest): void {
    const port = Number(/:(\d+)$/.exec(String(request.getHeader('host') ?? ''))?.[1]);
    const service = port === this.endpoints.queuePort ? 'queue' : port === this.endpoints.blobPort ? 'blob' : undefined;
    if (!service) return; // the token endpoint, Key Vault: not storage
    const operation = storageOperation(service, request.method, request.path, this.roles);
    const key = keyOf(this.actorOf(String(request.getHeader('user-agent') ?? '')), operation);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

/** Azurite's queue and blob ports, from a connection string's endpoints. */
export function storagePorts(connectionString: string): { queuePort: number; blobPort: number } {
  const port = (name: string) => Number(new RegExp(`${name}=https?://[^:/;]+:(\\d+)`).exec(connectionString)?.[1]);
  return { queuePort: port('QueueEndpoint'), blobPort: port('BlobEndpoint') };
}
