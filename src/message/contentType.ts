/**
 * The Content-Type an attachment is sent with. A producer names a media type; only
 * `type/subtype` and, for text, a known charset reach the wire:
 *
 * - `multipart/*` and `message/*` are sent as application/octet-stream. Either would make
 *   the part MIME structure: a producer-chosen boundary, or (for message/*, which cannot be
 *   base64-encoded, RFC 2046 §5.2) the producer's raw bytes, NULs and bare CRs included,
 *   straight into DATA. As octet-stream the file arrives byte for byte.
 * - Every parameter is dropped except `charset` on text/*: the relay writes `name` itself
 *   (nodemailer) and the part has no boundary. A charset outside the WHATWG Encoding
 *   Standard's (what browsers and mail readers decode) is refused: UTF-7 and its relatives
 *   turn ASCII that looks harmless into markup.
 *
 * Attachments are always base64 (compose.ts), so no byte of theirs is interpreted on the way.
 */
import { detectMimeType } from 'nodemailer/lib/mime-funcs';

/** Sent instead of a type that would make the attachment MIME structure. */
export const OPAQUE_TYPE = 'application/octet-stream';

/** Canonical names of the WHATWG Encoding Standard (not "replacement" or "x-user-defined"), plus the usual aliases us-ascii, iso-8859-1, utf-16, gb2312. */
const CHARSETS = new Set([
  'utf-8',
  'ibm866',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-8-i',
  'iso-8859-10',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'iso-8859-16',
  'koi8-r',
  'koi8-u',
  'macintosh',
  'windows-874',
  'windows-1250',
  'windows-1251',
  'windows-1252',
  'windows-1253',
  'windows-1254',
  'windows-1255',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'x-mac-cyrillic',
  'gbk',
  'gb18030',
  'big5',
  'euc-jp',
  'iso-2022-jp',
  'shift_jis',
  'euc-kr',
  'utf-16be',
  'utf-16le',
  'us-ascii',
  'iso-8859-1',
  'utf-16',
  'gb2312',
]);

/** `type/subtype` (the schema checks the characters), then `; name=value` parameters. */
const TYPE = /^\s*([^/\s;]+)\/([^\s;]+)\s*(;.*)?$/s;
const PARAMETER = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;

interface Declared {
  type: string;
  charsets: string[];
}

function parse(contentType: string): Declared | undefined {
  const match = TYPE.exec(contentType);
  if (!match) return undefined;
  const charsets: string[] = [];
  for (const parameter of (match[3] ?? '').matchAll(PARAMETER)) {
    if (parameter[1]!.toLowerCase() !== 'charset') continue;
    const raw = parameter[2]!.trim();
    charsets.push((raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw).toLowerCase());
  }
  return { type: `${match[1]}/${match[2]}`.toLowerCase(), charsets };
}

/** Why a declared content type cannot be sent, or undefined. Its shape is the schema's business. */
export function contentTypeProblem(contentType: string): string | undefined {
  const declared = parse(contentType);
  if (!declared || !declared.type.startsWith('text/') || declared.charsets.length === 0) return undefined;
  if (new Set(declared.charsets).size > 1) return 'names more than one charset';
  const [charset] = declared.charsets;
  if (!CHARSETS.has(charset!)) {
    return `has charset ${JSON.stringify(charset)}, which mail readers do not all decode alike; use utf-8 (or another charset of the WHATWG Encoding Standard)`;
  }
  return undefined;
}

/**
 * The Content-Type value to send for an attachment: the declared type (or nodemailer's guess
 * from the file name's extension, as it would guess) reduced to what may reach the wire.
 */
export function wireContentType(contentType: string | undefined, filename: string): string {
  const declared = parse(contentType ?? detectMimeType(filename));
  if (!declared) return OPAQUE_TYPE;
  if (/^(multipart|message)\//.test(declared.type)) return OPAQUE_TYPE;
  const [charset] = declared.charsets;
  if (declared.type.startsWith('text/') && charset !== undefined && CHARSETS.has(charset) && declared.charsets.every((item) => item === charset)) {
    return `${declared.type}; charset=${charset}`;
  }
  return declared.type;
}
