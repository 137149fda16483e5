import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIST_PRICES, PRICE_VARIABLES, costOf, costPerMillionMessages, priceClassOf, pricesFrom } from '../../../scripts/storagePrices';

test('each operation the relay and the host make is billed at its class', () => {
  const cases: Array<[service: 'queue' | 'blob', operation: string, priceClass: string | undefined]> = [
    ['queue', 'Put Message', 'queueClass1'],
    ['queue', 'Delete Message', 'queueClass1'],
    ['queue', 'Update Message', 'queueClass1'],
    ['queue', 'Get Messages', 'queueClass2'],
    ['queue', 'Peek Messages', 'queueClass2'],
    ['blob', 'Put Blob', 'blobWrite'],
    ['blob', 'Put Block List', 'blobWrite'],
    ['blob', 'Get Blob', 'blobRead'],
    ['blob', 'Get Blob Properties', 'blobOther'],
    ['blob', 'Lease Blob', 'blobOther'],
    ['blob', 'List Blobs', 'blobList'],
    ['blob', 'Create Container', 'blobList'],
    ['blob', 'Delete Blob', undefined],
  ];
  for (const [service, operation, priceClass] of cases) assert.equal(priceClassOf({ service, operation }), priceClass, operation);
});

test('the cost of a million messages: requests per message × a million ÷ 10,000 × the price', () => {
  const prices = { ...LIST_PRICES, usdPer10000: { ...LIST_PRICES.usdPer10000, blobWrite: 0.05, queueClass1: 0.004, queueClass2: 0.004 } };
  // Two ledger writes, one delete and a fraction of a poll per message.
  const perMessage = [
    { service: 'blob' as const, operation: 'Put Blob', perMessage: 2 },
    { service: 'queue' as const, operation: 'Delete Message', perMessage: 1 },
    { service: 'queue' as const, operation: 'Get Messages', perMessage: 0.25 },
    { service: 'blob' as const, operation: 'Delete Blob', perMessage: 1 },
  ];
  assert.equal(Math.round(costPerMillionMessages(perMessage, prices) * 1e6) / 1e6, 2 * 100 * 0.05 + 100 * 0.004 + 25 * 0.004);
  assert.equal(costOf({ service: 'blob', operation: 'Delete Blob' }, 1e6, prices), 0);
});

test('BENCH_PRICE_* override the list prices and say so; a value that is not a price is refused', () => {
  assert.equal(pricesFrom({}), LIST_PRICES);
  const prices = pricesFrom({ BENCH_PRICE_BLOB_WRITE: '0.065', BENCH_PRICE_QUEUE_CLASS2: '' });
  assert.equal(prices.usdPer10000.blobWrite, 0.065);
  assert.equal(prices.usdPer10000.queueClass2, LIST_PRICES.usdPer10000.queueClass2);
  assert.match(prices.asOf, /overridden by BENCH_PRICE_BLOB_WRITE/);
  assert.throws(() => pricesFrom({ BENCH_PRICE_BLOB_READ: 'cheap' }), /BENCH_PRICE_BLOB_READ: "cheap" is not a price/);
  assert.throws(() => pricesFrom({ BENCH_PRICE_BLOB_READ: '-1' }), /not a price/);
});

test('every price class has its variable, and the table says when and where its prices are from', () => {
  assert.deepEqual(Object.keys(PRICE_VARIABLES).sort(), Object.keys(LIST_PRICES.usdPer10000).sort());
  assert.match(LIST_PRICES.asOf, /\d{4}-\d{2}/);
  assert.match(LIST_PRICES.source, /azure\.microsoft\.com\/pricing/);
});
