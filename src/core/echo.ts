/**
 * What of a given text may be printed back, and how much of it.
 *
 * - `echoInput`: text a producer sent (a field name, a header name, an address) copied
 *   into a problem, a log line, a record or an answer: masked, then cut to a small bound,
 *   so a hostile message cannot make its problems, records or log lines huge.
 * - `echoSetting`: a value the operator typed, in a settings problem: shown only when
 *   its shape is one no secret has (a GUID, a host name, a URL without user info or
 *   query...), else described by its length, so a secret pasted into the wrong setting
 *   is never printed back, not even its first characters.
 */
import { isIP } from 'node:net';
import { redact } from './redact';

/** Characters of producer text kept in an echo. */
export const ECHO_MAX_CHARS = 64;

/** `text` masked and cut to `max` characters, saying how long it was: `abc…(70000 chars)`. */
export function echoInput(text: string, max = ECHO_MAX_CHARS): string {
  const masked = redact(text);
  if (masked.length <= max) return masked;
  // Never split a surrogate pair: half a character is not valid text.
  const cut = /[\uD800-\uDBFF]/.test(masked[max - 1]!) ? max - 1 : max;
  return `${masked.slice(0, cut)}…(${text.length} chars)`;
}

/** Longest setting value ever shown. */
const MAX_SETTING_ECHO = 200;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
/** Digits and the punctuation of numbers, lists and NCRONTAB expressions: no letters, nothing to hide. */
const NUMERIC = /^[0-9\s*/,?.:+-]+$/;
const MAILBOX_LOCAL = /^[A-Za-z0-9._+-]{0,64}$/;
const FILE_PATH = /^(?:[A-Za-z]:)?[\w .\\/-]+$/;

/**
 * The setting's value for a problem message: `"smtp.office365.com"` when its shape is safe,
 * `"https://x.queue.core.windows.net/" (its query not shown)` for a URL with a query or user
 * info, else `(a value of 40 characters, not shown)`.
 */
export function echoSetting(value: string): string {
  if (value.length <= MAX_SETTING_ECHO && redact(value) === value) {
    if (isSafeShape(value)) return JSON.stringify(value);
    const url = urlWithoutCredentials(value);
    if (url) return url;
  }
  const holds = redact(value) === value ? '' : ' that contains a secret';
  return `(a value of ${value.length} characters${holds}, not shown)`;
}

function isSafeShape(value: string): boolean {
  if (GUID.test(value) || isIP(value) !== 0 || NUMERIC.test(value)) return true;
  if (looksRandom(value)) return false;
  if (isHostName(value)) return true;
  const port = /^([^:]+):[0-9]{1,5}$/.exec(value);
  if (port && isHostName(port[1]!)) return true;
  const at = value.lastIndexOf('@');
  // An e-mail address, or what was meant as one ("relay@", "@contoso.com").
  if (at >= 0 && MAILBOX_LOCAL.test(value.slice(0, at)) && (at === value.length - 1 || isHostName(value.slice(at + 1)))) return true;
  if (FILE_PATH.test(value) && /[\\/]/.test(value)) return true;
  const url = parseUrl(value);
  return url !== undefined && isPlainUrl(url) && !/[?#@]/.test(value);
}

/**
 * Host names are case-insensitive and made of words: a label with a capital inside it
 * ("xK7pQ2") is more likely part of a password than of a name.
 */
function isHostName(value: string): boolean {
  if (value.length > 253) return false;
  return value.split('.').every((label) => HOST_LABEL.test(label) && (/^[A-Z]?[^A-Z]*$/.test(label) || !/[a-z]/.test(label)));
}

/**
 * A long run of letters and digits that mixes cases (20 or more), letters with digits (25 or
 * more, longer than a storage account name), or is longer than any word (33 or more): a key,
 * a token, a password.
 */
function looksRandom(value: string): boolean {
  for (const run of value.match(/[A-Za-z0-9]{20,}/g) ?? []) {
    if (run.length > 32) return true;
    if (/[a-z]/.test(run) && /[A-Z]/.test(run)) return true;
    if (run.length >= 25 && /[A-Za-z]/.test(run) && /[0-9]/.test(run)) return true;
  }
  return false;
}

/** A URL with a host, no user info, query or fragment, whose host and path hold nothing random. */
function isPlainUrl(url: URL): boolean {
  return url.host !== '' && !url.username && !url.password && !url.search && !url.hash && isHostOfUrl(url) && !looksRandom(url.pathname);
}

function isHostOfUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 || (isHostName(host) && !looksRandom(host));
}

/** A URL shown without what may carry a credential: its user info, query and fragment (and a path that looks random). */
function urlWithoutCredentials(value: string): string | undefined {
  const url = parseUrl(value);
  if (!url || url.host === '' || !isHostOfUrl(url)) return undefined;
  const hidden = [
    url.username || url.password ? 'user info' : undefined,
    looksRandom(url.pathname) ? 'path' : undefined,
    url.search || value.includes('?') ? 'query' : undefined,
    url.hash || value.includes('#') ? 'fragment' : undefined,
  ].filter((part): part is string => part !== undefined);
  if (hidden.length === 0) return undefined;
  const shown = `${url.protocol}//${url.host}${hidden.includes('path') ? '/' : url.pathname}`;
  const list = hidden.length === 1 ? hidden[0] : `${hidden.slice(0, -1).join(', ')} and ${hidden.at(-1)}`;
  return `${JSON.stringify(shown)} (its ${list} not shown)`;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
