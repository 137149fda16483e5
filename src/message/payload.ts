/**
 * Turns what the Functions host hands to a queue trigger into a JSON value.
 * The host base64-decodes the queue text (its default encoding) and parses it
 * when it is JSON, so the payload may be an object, a string or bytes; a
 * producer that base64-encoded the text itself on top of that is accepted too.
 */
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { decodeStrictBase64 } from './base64';

const UTF8_BOM = '\uFEFF';

/** The message text as the queue held it, for dead-letter records (objects are serialised again). */
export function decodeQueueText(payload: unknown): string {
  if (typeof payload === 'string') return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  if (payload === undefined) return '';
  try {
    // JSON.stringify gives undefined only for what JSON has no text for (a function, a symbol), never for
    // what the host hands over (text, bytes, parsed JSON); String() names that.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- see above: no object of the queue's gets here
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
      const entries: Array<[string, unknown]> = Object.entries(item).filter(([, member]) => member !== undefined && typeof member !== 'function');
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

/**
 * Parses the payload into the JSON object of a message (directly, or after
 * strict base64 decoding). Anything else throws RelayError invalid_json whose
 * message says exactly what arrived: nothing, JSON that is not an object (and
 * which kind), text that is not JSON, or base64 whose decoded text is not JSON.
 */
export function parsePayload(payload: unknown): unknown {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    if (payload === undefined) throw invalidJson('the queue message is empty');
    if (isJsonObject(payload)) return payload;
    // The Functions host parses JSON text before the handler sees it: null, numbers and the like arrive as values.
    throw invalidJson(`the queue message is ${jsonKind(payload)}, not a JSON object`);
  }
  const text = stripBom(decodeQueueText(payload));
  if (text.trim() === '') throw invalidJson('the queue message is empty');

  const direct = tryJson(text);
  if (direct.ok && isJsonObject(direct.value)) return direct.value;

  // A digits-only text is both JSON and base64: prefer the base64 reading when it yields an object.
  const bytes = decodeStrictBase64(text.trim());
  if (bytes !== undefined) {
    const decoded = tryJson(stripBom(bytes.toString('utf8')));
    if (decoded.ok && isJsonObject(decoded.value)) return decoded.value;
    if (!direct.ok && decoded.ok) throw invalidJson(`the queue message is base64 of ${jsonKind(decoded.value)}, not of a JSON object`);
    // The decoded text's error, not the base64 text's: the producer encoded something that is not JSON.
    if (!direct.ok && !decoded.ok && isText(bytes)) {
      throw invalidJson(`the queue message is base64 text whose decoded text is not JSON (${parserError(decoded.error)})`);
    }
  }
  if (direct.ok) throw invalidJson(`the queue message is ${jsonKind(direct.value)}, not a JSON object`);
  const error = parserError(direct.error);
  // The host hands a JSON string over as its content, which then reads as text that is not JSON
  // (text opening like an object or array was meant as one: it is broken JSON, not a string).
  if (typeof payload === 'string' && !/^\s*[[{]/.test(text)) {
    throw invalidJson(`the queue message is not a JSON object but a JSON string, or text that is neither JSON nor base64-encoded JSON (${error})`);
  }
  throw invalidJson(`the queue message is neither JSON nor base64-encoded JSON (${error})`);
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** A message is a JSON object: not null, not an array. */
function isJsonObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a JSON value is, without quoting it (it is producer text of any length). */
function jsonKind(value: unknown): string {
  if (value === null) return 'JSON null';
  if (Array.isArray(value)) return 'a JSON array';
  if (typeof value === 'string') return 'a JSON string';
  if (typeof value === 'number') return 'a JSON number';
  if (typeof value === 'boolean') return 'a JSON boolean';
  return `a ${typeof value} value`;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** C0 controls other than TAB, LF and CR: bytes decoding to these are binary, not text. */
const C0_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

/**
 * Whether base64-decoded bytes are text (UTF-8 without C0 controls). Short
 * words ("test", "abcd") are strict base64 by accident and decode to bytes that
 * are not: for those the text's own parse error is the one that explains.
 */
function isText(bytes: Buffer): boolean {
  try {
    return !C0_CONTROL.test(UTF8.decode(bytes));
  } catch {
    return false;
  }
}

const MAX_PARSER_ERROR = 200;

/**
 * JSON.parse's message, which quotes a few characters of the producer's text:
 * control and line-separator characters escaped so they cannot break a log
 * line, and cut to MAX_PARSER_ERROR characters.
 */
function parserError(message: string): string {
  const escaped = message.replace(/[\u0000-\u001F\u007F-\u009F\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length <= MAX_PARSER_ERROR ? escaped : `${escaped.slice(0, MAX_PARSER_ERROR - 1)}…`;
}

function stripBom(text: string): string {
  return text.startsWith(UTF8_BOM) ? text.slice(1) : text;
}

function invalidJson(detail: string): RelayError {
  return new RelayError(`Invalid queue message: ${detail}.`, {
    reason: 'invalid_json',
    kind: 'permanent',
    ...advice('message_not_json'),
  });
}
