/**
 * Producer text that becomes header text, kept within RFC 5322 §2.1.1: no line over 998
 * octets, and 78 where the text allows it.
 *
 * nodemailer folds a header only at whitespace, and RFC 2047-encodes only text holding
 * non-ASCII, quotes or encoded-word look-alikes; an unbroken run of plain ASCII goes out as
 * one line however long it is. So unstructured text with a run longer than an encoded word
 * is encoded here (nodemailer passes valid encoded words through and folds between them),
 * and the fields that cannot be encoded get a bound that validate.ts enforces.
 */
import { encodeWord } from 'nodemailer/lib/mime-funcs';

/** An encoded word is at most 75 characters (RFC 2047 §2); a longer unencoded run is encoded (or refused). */
export const MAX_RUN = 75;
/** Longest run of a field sent verbatim: with the fold's leading space and nodemailer's `<>` it stays under 998. */
export const MAX_VERBATIM_RUN = 900;

/** Text that already looks like an RFC 2047 encoded word (`=?charset?B?...?=`). */
const ENCODED_WORD = /=\?[^?\s]+\?[bq]\?[^?\s]*\?=/i;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const VERBATIM_CHARACTERS = /^[\t\x20-\x7e]*$/;

/** Length of the longest run of characters without a space or tab (where a header can be folded). */
export function longestRun(text: string): number {
  let longest = 0;
  let current = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    current = code === 0x20 || code === 0x09 ? 0 : current + 1;
    if (current > longest) longest = current;
  }
  return longest;
}

/**
 * An unstructured value (Subject, a custom header) as nodemailer should get it. Encoded as a
 * whole (as nodemailer encodes non-ASCII text) when it holds a run too long to fold, or when
 * it looks like an encoded word: nodemailer would pass `=?...?=` through and every mail reader
 * would decode it into other text.
 */
export function unstructuredText(text: string): string {
  return ENCODED_WORD.test(text) || longestRun(text) > MAX_RUN ? encodeWord(text, 'B', 52) : text;
}

/** A display name as nodemailer should get it: an encoded-word look-alike is encoded, so it reads as written. */
export function displayNameText(name: string): string {
  return ENCODED_WORD.test(name) ? encodeWord(name, 'B', 52) : name;
}

/**
 * Why a display name cannot be sent, or undefined. nodemailer writes an ASCII name as
 * atoms or as one quoted string (RFC 5322 §3.2.4, where an encoded word is not allowed),
 * folded only at its spaces; any other name it encodes whole, which always folds.
 */
export function displayNameProblem(name: string): string | undefined {
  if (!PRINTABLE_ASCII.test(name) || ENCODED_WORD.test(name)) return undefined;
  const run = longestRun(name.replace(/["\\]/g, '\\$&'));
  if (run <= MAX_RUN) return undefined;
  return `has ${run} characters without a space; a display name in ASCII may have at most ${MAX_RUN} in a row, so that its header line stays within RFC 5322 limits`;
}

/** Why the value of a verbatim field (headers.ts isVerbatimHeader) cannot be sent, or undefined. */
export function verbatimValueProblem(value: string): string | undefined {
  if (!VERBATIM_CHARACTERS.test(value)) {
    return 'must be printable ASCII: programs read this field as written, so it cannot be encoded';
  }
  const run = longestRun(value);
  if (run <= MAX_VERBATIM_RUN) return undefined;
  return `has ${run} characters without a space; at most ${MAX_VERBATIM_RUN} in a row fit a header line (RFC 5322 §2.1.1)`;
}
