/**
 * E-mail address checks shared by the settings (SMTP_USER, MAIL_FROM, …) and
 * the queue-message contract. Parsing of "Name <a@b.c>" is left to
 * nodemailer's own address parser, so that what we accept is exactly what
 * nodemailer will later put on the wire.
 */
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';

export interface Mailbox {
  name?: string;
  address: string;
}

// RFC 5322 atext, plus any non-ASCII code point (RFC 6532 internationalised local parts).
const LOCAL_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+$/u;
// A domain as written by a user: ASCII letters, digits, hyphens and dots, or non-ASCII (IDN) characters.
const DOMAIN_CHARS = /^[A-Za-z0-9.\u0080-\u{10FFFF}-]+$/u;
const ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const LINE_BREAK_OR_NUL = /[\r\n\0]/;

/**
 * A plain address `local@domain` (no display name, no comments, no quoted local
 * part). UTF-8 local parts and IDN domains are allowed; the domain must have at
 * least two labels.
 */
export function isEmailAddress(value: string): boolean {
  if (value.length === 0 || value.length > 320 || LINE_BREAK_OR_NUL.test(value)) return false;
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (Buffer.byteLength(local, 'utf8') > 64) return false;
  if (!local.split('.').every((atom) => LOCAL_ATOM.test(atom))) return false;
  return asciiDomain(domain) !== undefined;
}

/** The domain in ASCII (punycode) form, lower-cased, or undefined when it is not a valid host name. */
export function asciiDomain(domain: string): string | undefined {
  if (!DOMAIN_CHARS.test(domain)) return undefined;
  const ascii = domainToASCII(domain);
  if (!ascii || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => ASCII_LABEL.test(label))) return undefined;
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined; // an IP address is not a mail domain
  return ascii;
}

/** Key for comparing addresses: case-insensitive, IDN domains in punycode form. */
export function addressKey(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = asciiDomain(address.slice(at + 1)) ?? address.slice(at + 1).toLowerCase();
  return `${address.slice(0, at).toLowerCase()}@${domain}`;
}

/**
 * Parses one recipient written as `a@b.c` or `Display Name <a@b.c>`.
 * Returns undefined unless the text holds exactly one valid address and no group.
 */
export function parseMailboxText(text: string): Mailbox | undefined {
  if (LINE_BREAK_OR_NUL.test(text)) return undefined;
  const parsed = addressparser(text);
  if (parsed.length !== 1) return undefined;
  const entry = parsed[0]!;
  if (entry.group !== undefined || !entry.address || !isEmailAddress(entry.address)) return undefined;
  // Only the two documented forms: nodemailer's parser would also read "a b@c.d" or "a@b.c (comment)",
  // and it reads "A <a@x.test> <b@y.test>" as a@x.test named "A b@y.test": one address must be one <...>.
  const trimmed = text.trim();
  const brackets = unquotedAngleBrackets(trimmed);
  if (trimmed === entry.address) {
    if (brackets.length !== 0) return undefined;
  } else {
    if (brackets.length !== 2 || trimmed[brackets[0]!] !== '<' || brackets[1] !== trimmed.length - 1) return undefined;
    if (trimmed.slice(brackets[0]! + 1, -1).trim() !== entry.address) return undefined;
  }
  return entry.name ? { name: entry.name, address: entry.address } : { address: entry.address };
}

/** Positions of the `<` and `>` outside quoted strings (RFC 5322 §3.2.4, with quoted pairs). */
function unquotedAngleBrackets(text: string): number[] {
  const positions: number[] = [];
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quoted && char === '\\') index += 1;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && (char === '<' || char === '>')) positions.push(index);
  }
  return positions;
}

/** Full stops that IDNA reads as a label separator (UTS #46), besides ".". */
const IDEOGRAPHIC_STOPS = /[\u3002\uFF0E\uFF61]/g;
/** Format characters (zero-width spaces and joiners, bidirectional controls, soft hyphen) that hide inside text. */
const FORMAT_CHARACTERS = /\p{Cf}/gu;
/** What can stand before the @ of an address as it displays: no spaces, brackets, quotes or list separators. */
const LOCAL_CHARACTER = /[^\s@<>()[\],;:"]/u;
/** A domain of two or more labels, read from just after an @. */
const DOMAIN_AFTER_AT = /[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)+/uy;

/**
 * The e-mail address a display name shows that is not the mailbox's own, or undefined.
 * `"ceo@contoso.com" <x@evil.test>` displays as mail from the CEO in most readers. Look-alikes
 * count as they display: fullwidth and small @ and dots (folded by NFKC), ideographic full
 * stops, and addresses split by invisible format characters.
 */
export function otherAddressInName(name: string, address: string): string | undefined {
  const shown = name.normalize('NFKC').replace(FORMAT_CHARACTERS, '').replace(IDEOGRAPHIC_STOPS, '.');
  const own = addressKey(address);
  // Linear: each run before an @ holds no @, so no character is scanned for more than two of them.
  for (let at = shown.indexOf('@'); at >= 0; at = shown.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && LOCAL_CHARACTER.test(shown[start - 1]!)) start -= 1;
    DOMAIN_AFTER_AT.lastIndex = at + 1;
    const domain = DOMAIN_AFTER_AT.exec(shown);
    if (start === at || !domain) continue;
    const local = shown.slice(start, at);
    const shownAddress = `${local}@${domain[0]}`;
    // Punctuation around the name's copy of its own address ("'x@y.test'") is not another address.
    const bare = `${local.replace(/^[^\p{L}\p{N}]+/u, '')}@${domain[0]}`;
    if (addressKey(shownAddress) !== own && addressKey(bare) !== own) return shownAddress;
  }
  return undefined;
}
