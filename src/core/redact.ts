/**
 * Last line of defence against secret leaks: every string that leaves the
 * relay (log lines, error texts, HTTP answers, dead-letter records) passes
 * through `redact()`. Known secret values (client secret, current access
 * tokens) are registered here by the code that handles them, with the forms a
 * server or a library may echo them in (URL-encoded, JSON-escaped, base64),
 * and anything shaped like a bearer token, a JWT or an XOAUTH2 initial
 * response is masked even if nobody registered it.
 *
 * The text is often a producer's (a field name in a problem, a whole message):
 * every step here runs in time linear in its length, whatever it holds.
 */
import type { Logger } from './log';

const REDACTED = '[redacted]';
/** Shorter values (and encoded forms) are not masked: too many false hits. */
const MIN_SECRET_LENGTH = 8;

/**
 * How many characters on each side of a matched form also carry bits of the value: for a
 * base64 core, the characters of the groups it shares with neighbouring bytes.
 */
type Widening = readonly [before: number, after: number];
const EXACT: Widening = [0, 0];

/** Each registered secret with its forms (a Map, so a value registered twice is forgotten once). */
const registered = new Map<string, Map<string, Widening>>();
/** One alternation of every form, longest first; rebuilt when the set changes. */
let knownMatcher: { pattern: RegExp; widening: Map<string, Widening> } | null | undefined;

// base64("user=") starts every XOAUTH2 initial client response. The lookbehind lets it start only
// where a base64 run starts, and the run after it cannot backtrack into anything: linear.
const XOAUTH2_PATTERN = /(?<![A-Za-z0-9+/])dXNlcj[0-9A-Za-z+/]{8,}={0,2}/g;
// "Bearer <anything>" in headers or texts. \s+ and the token's characters never overlap, so a
// failed attempt gives up after one pass over the blanks: linear.
const BEARER_PATTERN = /(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/gi;

/** Remember a secret value so it is masked wherever it might appear, in its encoded forms too. Short values are ignored. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || registered.has(value)) return;
  registered.set(value, encodedForms(value));
  knownMatcher = undefined;
}

/** Forget a secret (a replaced token), to keep the set small. */
export function forgetSecret(value: string | undefined): void {
  if (value && registered.delete(value)) knownMatcher = undefined;
}

/**
 * The value as it appears raw, in a URL query or form body (encodeURIComponent, as MSAL
 * sends it; URLSearchParams, as the generic token source sends it, with spaces as + and
 * ~ as %7E; either with lower-case hex), inside a JSON string (also with "\/"), and in base64
 * or base64url, alone or inside a longer encoded text (Basic auth, an XOAUTH2 response) at
 * any of the three byte offsets. Inside a longer text only the groups of four characters that
 * hold nothing but the value's bytes are fixed: those groups are the form, and a match also
 * masks the characters before and after that mix the value's first and last bytes with others.
 */
function encodedForms(value: string): Map<string, Widening> {
  const forms = new Map<string, Widening>();
  const add = (form: string, widening: Widening) => {
    if (form.length >= MIN_SECRET_LENGTH && !forms.has(form)) forms.set(form, widening);
  };
  const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
  const uri = encodeURIComponent(value);
  const form = new URLSearchParams([['', value]]).toString().slice(1);
  const json = JSON.stringify(value).slice(1, -1);
  for (const text of [value, uri, lowerHex(uri), form, lowerHex(form), json, json.replace(/\//g, '\\/')]) add(text, EXACT);

  const bytes = Buffer.from(value, 'utf8');
  add(bytes.toString('base64'), EXACT);
  add(bytes.toString('base64url'), EXACT);
  // Skipping 0, 1 or 2 bytes puts the rest on a group boundary; the value then started after
  // 0, 2 or 1 other bytes of its group, whose last 0, 3 or 2 characters hold its first bits.
  const before = [0, 2, 3] as const;
  // 0, 1 or 2 bytes left at the end share a group: 0, 2 or 3 characters.
  const after = [0, 2, 3] as const;
  for (let skip = 0; skip < 3 && skip < bytes.length; skip++) {
    const rest = bytes.length - skip;
    const whole = bytes.subarray(skip, bytes.length - (rest % 3));
    const widening: Widening = [before[skip]!, after[rest % 3]!];
    add(whole.toString('base64'), widening);
    add(whole.toString('base64url'), widening);
  }
  return forms;
}

function matcher(): { pattern: RegExp; widening: Map<string, Widening> } | null {
  if (knownMatcher !== undefined) return knownMatcher;
  const widening = new Map<string, Widening>();
  for (const forms of registered.values()) {
    for (const [form, wide] of forms) {
      const known = widening.get(form);
      widening.set(form, known ? [Math.max(known[0], wide[0]), Math.max(known[1], wide[1])] : wide);
    }
  }
  // Longest first: where two forms start at the same place, the whole of the longer one is masked.
  const alternatives = [...widening.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  knownMatcher = alternatives.length === 0 ? null : { pattern: new RegExp(alternatives.join('|'), 'g'), widening };
  return knownMatcher;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const BASE64_CHAR = /[A-Za-z0-9+/_-]/;

/**
 * Masks only the registered secret values (in their encoded forms): for text that must otherwise
 * stay byte for byte (an application's original message). One pass over the text for all of them.
 */
export function redactKnownSecrets(text: string): string {
  const known = matcher();
  if (!known) return text;
  const { pattern, widening } = known;
  pattern.lastIndex = 0;
  const parts: string[] = [];
  let done = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    let start = match.index;
    let end = start + match[0].length;
    const [before, after] = widening.get(match[0]) ?? EXACT;
    for (let n = 0; n < before && start > done && BASE64_CHAR.test(text[start - 1]!); n++) start--;
    if (after > 0) {
      for (let n = 0; n < after && end < text.length && BASE64_CHAR.test(text[end]!); n++) end++;
      while (end < text.length && text[end] === '=') end++;
      pattern.lastIndex = end;
    }
    parts.push(text.slice(done, start), REDACTED);
    done = end;
  }
  if (parts.length === 0) return text;
  parts.push(text.slice(done));
  return parts.join('');
}

export function redact(text: string): string {
  return redactJwts(redactKnownSecrets(text)).replace(XOAUTH2_PATTERN, REDACTED).replace(BEARER_PATTERN, `$1${REDACTED}`);
}

const JWT_START = 'eyJ';

/**
 * JWTs (Entra access tokens): `eyJ` and at least 4 more base64url characters, a dot, at
 * least 4 base64url characters, a dot, and the signature (possibly empty). A scanner, not a
 * regex: a regex must try every `eyJ` of a long run and scan the rest of the run from each,
 * which is quadratic. Here, when a candidate fails, every later `eyJ` before the end of its
 * first part would fail the same way, so the search resumes after that part: each character
 * is looked at a bounded number of times.
 */
function redactJwts(text: string): string {
  let at = text.indexOf(JWT_START);
  if (at === -1) return text;
  const parts: string[] = [];
  let done = 0;
  while (at !== -1) {
    const firstEnd = base64urlRunEnd(text, at + JWT_START.length);
    if (firstEnd - at >= JWT_START.length + 4 && text[firstEnd] === '.') {
      const secondEnd = base64urlRunEnd(text, firstEnd + 1);
      if (secondEnd - firstEnd - 1 >= 4 && text[secondEnd] === '.') {
        const end = base64urlRunEnd(text, secondEnd + 1);
        parts.push(text.slice(done, at), REDACTED);
        done = end;
        at = text.indexOf(JWT_START, end);
        continue;
      }
    }
    at = text.indexOf(JWT_START, firstEnd);
  }
  if (parts.length === 0) return text;
  parts.push(text.slice(done));
  return parts.join('');
}

/** Index just past the run of base64url characters starting at `from`. */
function base64urlRunEnd(text: string, from: number): number {
  let index = from;
  while (index < text.length && isBase64url(text.charCodeAt(index))) index++;
  return index;
}

function isBase64url(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x5f;
}

/** Deep-redact a JSON-able value (strings anywhere inside are masked). */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = redactValue(item);
    return out as T;
  }
  return value;
}

/** A logger that masks secrets in every line and field before passing them on. */
export function redactingLogger(inner: Logger): Logger {
  return {
    info: (message, props) => inner.info(redact(message), props && redactValue(props)),
    warn: (message, props) => inner.warn(redact(message), props && redactValue(props)),
    error: (message, props) => inner.error(redact(message), props && redactValue(props)),
  };
}
