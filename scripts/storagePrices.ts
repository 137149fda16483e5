/**
 * What storage requests cost: Azure Storage's list prices per 10,000 transactions,
 * and the REST operations each price applies to. One table, so the figures are easy
 * to check and to update; BENCH_PRICE_* environment variables override each price.
 */
import type { StorageOperation } from './storageOperations';

export type PriceClass = 'queueClass1' | 'queueClass2' | 'blobWrite' | 'blobRead' | 'blobList' | 'blobOther';

export interface PriceTable {
  /** USD per 10,000 transactions. */
  usdPer10000: Record<PriceClass, number>;
  asOf: string;
  source: string;
}

/**
 * General-purpose v2 account, LRS, Hot access tier, pay-as-you-go, USD, East US.
 * These are the documented list prices as remembered for late 2024 (the machine that
 * wrote this has no internet access): check them against the pages named in `source`
 * before quoting a figure, and pass the current ones as BENCH_PRICE_* when they differ.
 */
export const LIST_PRICES: PriceTable = {
  usdPer10000: {
    queueClass1: 0.004,
    queueClass2: 0.004,
    blobWrite: 0.055,
    blobRead: 0.0044,
    blobList: 0.055,
    blobOther: 0.0044,
  },
  asOf: '2024-11 (list prices as remembered, not checked online)',
  source: 'azure.microsoft.com/pricing/details/storage/queues/ and /storage/blobs/ (GPv2, LRS, Hot, East US)',
};

/** The environment variable that overrides each price (USD per 10,000). */
export const PRICE_VARIABLES: Record<PriceClass, string> = {
  queueClass1: 'BENCH_PRICE_QUEUE_CLASS1',
  queueClass2: 'BENCH_PRICE_QUEUE_CLASS2',
  blobWrite: 'BENCH_PRICE_BLOB_WRITE',
  blobRead: 'BENCH_PRICE_BLOB_READ',
  blobList: 'BENCH_PRICE_BLOB_LIST',
  blobOther: 'BENCH_PRICE_BLOB_OTHER',
};

/** LIST_PRICES with the BENCH_PRICE_* overrides in `env`; a value that is not a price is refused. */
export function pricesFrom(env: Readonly<Record<string, string | undefined>>): PriceTable {
  const usdPer10000 = { ...LIST_PRICES.usdPer10000 };
  const overridden: string[] = [];
  for (const [priceClass, variable] of Object.entries(PRICE_VARIABLES) as Array<[PriceClass, string]>) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    const price = Number(value);
    if (!Number.isFinite(price) || price < 0) throw new Error(`${variable}: "${value}" is not a price in USD per 10,000 transactions`);
    usdPer10000[priceClass] = price;
    overridden.push(variable);
  }
  return overridden.length === 0 ? LIST_PRICES : { ...LIST_PRICES, usdPer10000, asOf: `${LIST_PRICES.asOf}; overridden by ${overridden.join(', ')}` };
}

// Queue: the price list's class 1 (writes) and class 2 (reads); Get Messages is class 2.
const QUEUE_CLASS_1 = new Set([
  'Create Queue',
  'List Queues',
  'Put Message',
  'Set Queue Metadata',
  'Update Message',
  'Clear Messages',
  'Delete Message',
  'Delete Queue',
  'Set Queue ACL',
]);
// Blob, Hot tier: writes, reads, list/create container; deletes are free; everything else (HEAD, lease, metadata) is "other".
const BLOB_WRITE = new Set(['Put Blob', 'Put Block', 'Put Block List', 'Append Block', 'Copy Blob', 'Snapshot Blob', 'Set Blob Tier']);
const BLOB_LIST = new Set(['List Blobs', 'List Containers', 'Create Container']);
const BLOB_FREE = new Set(['Delete Blob', 'Delete Container']);

/** The price an operation is billed at; undefined for a free one. */
export function priceClassOf(operation: Pick<StorageOperation, 'service' | 'operation'>): PriceClass | undefined {
  if (operation.service === 'queue') return QUEUE_CLASS_1.has(operation.operation) ? 'queueClass1' : 'queueClass2';
  if (BLOB_FREE.has(operation.operation)) return undefined;
  if (BLOB_WRITE.has(operation.operation)) return 'blobWrite';
  if (BLOB_LIST.has(operation.operation)) return 'blobList';
  if (operation.operation === 'Get Blob') return 'blobRead';
  return 'blobOther';
}

/** USD for `count` requests of `operation`. */
export function costOf(operation: Pick<StorageOperation, 'service' | 'operation'>, count: number, prices: PriceTable): number {
  const priceClass = priceClassOf(operation);
  return priceClass === undefined ? 0 : (count / 10_000) * prices.usdPer10000[priceClass];
}

/** USD for a million messages, given each operation's requests per message. */
export function costPerMillionMessages(
  perMessage: ReadonlyArray<Pick<StorageOperation, 'service' | 'operation'> & { perMessage: number }>,
  prices: PriceTable,
): number {
  return perMessage.reduce((sum, row) => sum + costOf(row, row.perMessage * 1_000_000, prices), 0);
}
