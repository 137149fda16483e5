/**
 * Turns what the Functions host hands to a queue trigger into a JSON value.
 * The host base64-decodes the queue text (its default encoding) and parses it
 * when it is JSON, so the payload may be an object, a string or bytes; a
 * producer that base64-encoded the text itself on top of that is accepted too.
 */
import { RelayError } from '../errors';
import { decodeStrictBase64 } from './base64';

const UTF8_BOM = '\uFEFF';

/** The message text as the queue held it, for dead-letter records (objects are serialised again). */
export function decodeQueueText(payload: unknown): string {
  if (typeof payload === 'string') return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  if (payload === undefined) return '';
  try {
    return JSON.stringify(payload) ?? String(payload);
  } catch (error) {
    // JSON.stringify recurses: a hostile, deeply nested message would overflow the stack here and
    // leave the message with no record. Serialise it without recursion instead.
    if (error instanceof RangeError) return stringifyWithoutRecursion(payload);
    throw error;
  }
}

type Frame = { items: unknown[]; index: number; close: string; keys?: string[] };

/** JSON.stringify for parsed JSON values (objects, arrays, strings, numbers, booleans, null) with an explicit stack. */
export function stringifyWithoutRecursion(value: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const open = (item: unknown): void => {
    if (Array.isArray(item)) {
      out.push('[');
      stack.push({ items: item, index: 0, close: ']' });
    } else if (item !== null && typeof item === 'object') {
      const entries = Object.entries(item).filter(([, member]) => member !== undefined && typeof member !== 'function');
      out.push('{');
      stack.push({ items: entries.map(([, member]) => member), keys: entries.map(([key]) => key), index: 0, close: '}' });
    } else {
      out.push(JSON.stringify(item) ?? 'null');
    }
  };
  open(value);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.index >= frame.items.length) {
      out.push(frame.close);
      stack.pop();
      continue;
    }
    if (frame.index > 0) out.push(',');
    if (frame.keys) out.push(`${JSON.stringify(frame.keys[frame.index])}:`);
    open(frame.items[frame.index++] ?? null);
  }
  return out.join('');
}

/** Parses the payload as JSON (directly, or after strict base64 decoding); throws RelayError invalid_json. */
export function parsePayload(payload: unknown): unknown {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    if (payload === undefined || payload === null) throw invalidJson('the queue message is empty');
    return payload;
  }
  const text = stripBom(decodeQueueText(payload));
  if (text.trim() === '') throw invalidJson('the queue message is empty');

  const direct = tryJson(text);
  if (direct.ok && isObjectLike(direct.value)) return direct.value;

  // A digits-only text is both JSON and base64: prefer the base64 reading when it yields an object.
  const bytes = decodeStrictBase64(text.trim());
  if (bytes !== undefined) {
    const decoded = tryJson(stripBom(bytes.toString('utf8')));
    if (decoded.ok && (isObjectLike(decoded.value) || !direct.ok)) return decoded.value;
  }
  if (direct.ok) return direct.value;
  throw invalidJson(`the queue message is neither JSON nor base64-encoded JSON (${direct.error})`);
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function isObjectLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}

function stripBom(text: string): string {
  return text.startsWith(UTF8_BOM) ? text.slice(1) : text;
}

function invalidJson(detail: string): RelayError {
  return new RelayError(`Invalid queue message: ${detail}.`, {
    reason: 'invalid_json',
    kind: 'permanent',
    remedy: 'Producers must enqueue one JSON object per message (plain or base64-encoded UTF-8), as described in src/message/message.schema.json.',
  });
}
