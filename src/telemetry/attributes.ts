/**
 * A log event's fields as OpenTelemetry attributes (customDimensions in Application Insights):
 * flat keys, primitive values. Nested objects become dotted keys (`error.reason`), arrays and
 * anything deeper become JSON text. The fields often hold a producer's text (an id, a
 * recipient, a problem), so everything is bounded: the number of attributes, the key length,
 * the value length (Application Insights keeps 8192 characters of a property) and the depth.
 *
 * The fields arrive already redacted (src/app wraps every logger in redactingLogger before
 * any of this runs): this module changes their shape, never their content.
 */
import type { AttributeValue, Attributes } from '@opentelemetry/api';

/** Application Insights' limits for a custom property: 150 characters of key, 8192 of value. */
export const MAX_KEY_LENGTH = 150;
export const MAX_VALUE_LENGTH = 8192;
/** More than any relay event has; a hostile object with thousands of keys is cut here. */
export const MAX_ATTRIBUTES = 64;
/** Dotted levels below the top; below that a value is kept as JSON text. */
const MAX_DEPTH = 2;
/** Said on a record whose fields did not all fit. */
export const DROPPED_ATTRIBUTE = 'telemetry.dropped_attributes';

export function toAttributes(props: Record<string, unknown> | undefined): Attributes {
  const entries: Array<[string, AttributeValue]> = [];
  let dropped = 0;
  const add = (key: string, value: AttributeValue) => void entries.push([key.slice(0, MAX_KEY_LENGTH), value]);
  const visit = (prefix: string, value: unknown, depth: number) => {
    if (value === undefined || value === null || typeof value === 'function' || typeof value === 'symbol') return;
    if (isPlainObject(value) && depth < MAX_DEPTH) {
      for (const [key, item] of Object.entries(value)) visit(`${prefix}.${key}`, item, depth + 1);
      return;
    }
    // Counted, not converted: nothing past the limit is serialised.
    if (entries.length >= MAX_ATTRIBUTES) return void dropped++;
    if (typeof value === 'string') return add(prefix, bounded(value));
    if (typeof value === 'number' || typeof value === 'boolean') return add(prefix, value);
    if (typeof value === 'bigint') return add(prefix, value.toString());
    if (value instanceof Date) return add(prefix, Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString());
    add(prefix, bounded(jsonText(value)));
  };
  for (const [key, value] of Object.entries(props ?? {})) visit(key, value, 0);
  if (dropped > 0) entries.push([DROPPED_ATTRIBUTE, dropped]);
  // fromEntries defines own properties: a key such as "__proto__" stays a key, never a prototype.
  return Object.fromEntries(entries);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A cycle, or a value that refuses: its type is all that can be said.
    return `[unserialisable ${Object.prototype.toString.call(value)}]`;
  }
}

/** Cut to the value limit, never inside a surrogate pair, saying how long it was. */
function bounded(text: string): string {
  if (text.length <= MAX_VALUE_LENGTH) return text;
  const suffix = `…(${text.length} chars)`;
  let cut = MAX_VALUE_LENGTH - suffix.length;
  if (/[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut--;
  return text.slice(0, cut) + suffix;
}
