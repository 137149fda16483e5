/** An event's fields as OpenTelemetry attributes: flat, primitive, bounded (src/telemetry/attributes.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROPPED_ATTRIBUTE, MAX_ATTRIBUTES, MAX_KEY_LENGTH, MAX_VALUE_LENGTH, toAttributes } from '../../../src/telemetry/attributes';

test('primitives stay as they are; nested objects become dotted keys; arrays and deeper values become JSON text; null and undefined are left out', () => {
  const attributes = toAttributes({
    event: 'relay.retry',
    attempt: 2,
    finalAttempt: false,
    at: new Date('2026-01-02T03:04:05.000Z'),
    accepted: ['a@example.net', 'b@example.net'],
    error: { reason: 'smtp_throttled', detail: { code: 451, deeper: { x: 1 } } },
    providerReply: undefined,
    remedy: null,
  });
  assert.deepEqual(attributes, {
    event: 'relay.retry',
    attempt: 2,
    finalAttempt: false,
    at: '2026-01-02T03:04:05.000Z',
    accepted: '["a@example.net","b@example.net"]',
    'error.reason': 'smtp_throttled',
    'error.detail.code': 451,
    'error.detail.deeper': '{"x":1}',
  });
});

test('a hostile field cannot make a record huge: values, keys and the number of attributes are bounded, and the record says how many were dropped', () => {
  const many = Object.fromEntries(Array.from({ length: 5000 }, (_, index) => [`k${index}`, index]));
  const attributes = toAttributes({ long: 'x'.repeat(1_000_000), ['y'.repeat(10_000)]: 1, nested: many, ...many });
  const keys = Object.keys(attributes);
  assert.equal(keys.length, MAX_ATTRIBUTES + 1);
  assert.ok(keys.every((key) => key.length <= MAX_KEY_LENGTH));
  assert.ok(String(attributes.long).length <= MAX_VALUE_LENGTH);
  assert.match(String(attributes.long), /…\(1000000 chars\)$/);
  // Leaves: long, the long key, 5000 nested and 5000 top-level values.
  assert.equal(attributes[DROPPED_ATTRIBUTE], 2 + 5000 + 5000 - MAX_ATTRIBUTES);
});

test('a value cut at the limit never ends in half a surrogate pair', () => {
  const text = toAttributes({ text: '😀'.repeat(MAX_VALUE_LENGTH) }).text as string;
  assert.ok(text.length <= MAX_VALUE_LENGTH);
  assert.doesNotMatch(text, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
});

test('a key such as __proto__ stays a key and never changes the prototype; a cycle is described, not followed', () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "c"}') as Record<string, unknown>;
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const attributes = toAttributes({ hostile, list: [cyclic] });
  assert.equal(attributes['hostile.__proto__.polluted'], 'yes');
  assert.equal(attributes['hostile.constructor'], 'c');
  assert.equal(Object.getPrototypeOf(attributes), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.match(String(attributes.list), /^\[unserialisable/);
});
