/**
 * The hostile and malformed input corpus: queue message texts an application
 * (or an attacker who can write to the queue) might produce, each with the one
 * correct outcome: delivered correctly (checked on the parsed .eml), or
 * dead-lettered with a precise reason and the problem named.
 *
 * Every entry that is delivered carries the X-Harness-Key header added by the
 * test, so deliveries are traced; every entry is tried once through the whole
 * relay (Azurite queue, runner, relay, SMTP server).
 */
import assert from 'node:assert/strict';
import { domainToASCII } from 'node:url';
import type { ParsedMail } from 'mailparser';
import type { ReasonCode } from '../../src/core/errors';

export const EVIL = 'evil@example.org';

export type Expectation =
  | { outcome: 'dead-lettered'; reason: ReasonCode; problem: RegExp }
  | { outcome: 'delivered'; check: (parsed: ParsedMail, raw: Buffer, envelope: { mailFrom: string; rcptTo: string[] }) => void };

export interface CorpusEntry {
  name: string;
  /** The message as JSON (the test adds the harness header), or raw text queued as it is. */
  message?: Record<string, unknown>;
  text?: string;
  /** An SMTPUTF8 message: its address headers may carry UTF-8 (RFC 6532) instead of being 7-bit. */
  utf8Headers?: boolean;
  expect: Expectation;
}

const rejected = (reason: ReasonCode, problem: RegExp): Expectation => ({ outcome: 'dead-lettered', reason, problem });

/** An e-mail as an attachment, with a NUL and a bare CR that must not reach DATA raw. */
const NUL_MESSAGE = Buffer.from('From: a@example.net\r\nSubject: x\r\n\r\nbody\u0000with a NUL and a bare \r CR\r\n');

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

function addresses(parsed: ParsedMail, field: 'to' | 'cc' | 'replyTo'): Array<{ name: string; address: string }> {
  const value = parsed[field];
  const groups = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return groups.flatMap((group) => group.value.map((entry) => ({ name: entry.name, address: entry.address ?? '' })));
}

/** Nested `depth` levels deep inside a field the contract does not have. */
function deeplyNested(depth: number): string {
  return `{"to":"a@example.net","text":"x","nested":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
}

export const CORPUS: CorpusEntry[] = [
  // ------------------------------------------------------------ not a message
  { name: 'invalid JSON (truncated)', text: '{"to": "a@example.net", "subject": ', expect: rejected('invalid_json', /neither JSON nor base64/) },
  { name: 'invalid JSON (single quotes)', text: "{'to': 'a@example.net', 'text': 'x'}", expect: rejected('invalid_json', /neither JSON/) },
  { name: 'empty message', text: '', expect: rejected('invalid_json', /empty/) },
  { name: 'JSON array, not an object', text: '[{"to":"a@example.net","text":"x"}]', expect: rejected('invalid_json', /is a JSON array, not a JSON object\.$/) },
  // The host hands a JSON string over as the string itself, which is not JSON: both readings are named.
  {
    name: 'JSON string, not an object',
    text: '"to: a@example.net"',
    expect: rejected(
      'invalid_json',
      /is not a JSON object but a JSON string, or text that is neither JSON nor base64-encoded JSON \(Unexpected token 'o', "to: a@example\.net" is not valid JSON\)\.$/,
    ),
  },
  { name: 'JSON number', text: '42', expect: rejected('invalid_json', /is a JSON number, not a JSON object\.$/) },
  // The host hands JSON null over parsed, as null: not an empty message.
  { name: 'JSON null', text: 'null', expect: rejected('invalid_json', /is JSON null, not a JSON object\.$/) },
  // The parse error quoted is the decoded text's, not the base64 text's.
  {
    name: 'base64 of text that is not JSON',
    text: Buffer.from('to: a@example.net').toString('base64'),
    expect: rejected('invalid_json', /is base64 text whose decoded text is not JSON \(Unexpected token 'o', "to: a@example\.net" is not valid JSON\)\.$/),
  },
  // As deep as a queue message can hold (64 KiB): deeper than JSON.stringify can recurse.
  { name: 'deeply nested JSON (32,000 levels)', text: deeplyNested(32_000), expect: rejected('invalid_message', /nested/) },
  {
    name: 'deeply nested objects in a header value',
    text: `{"to":"a@example.net","text":"x","headers":{"X-A":${'{"a":'.repeat(9000)}1${'}'.repeat(9000)}}}`,
    expect: rejected('invalid_message', /X-A/),
  },

  // ---------------------------------------------------------------- the shape
  {
    name: 'wrong types',
    message: { to: 42, subject: ['x'], text: { body: 'x' } },
    expect: rejected('invalid_message', /\$\.to.*\$\.subject|\$\.subject.*\$\.to/),
  },
  { name: 'unknown field (a typo)', message: { to: 'a@example.net', text: 'x', attachements: [] }, expect: rejected('invalid_message', /attachements/) },
  { name: 'empty recipients', message: { to: [], cc: [], text: 'x' }, expect: rejected('invalid_message', /at least one recipient/) },
  { name: 'no body', message: { to: 'a@example.net', subject: 'x' }, expect: rejected('invalid_message', /text|html/) },

  // ------------------------------------------------------ injection attempts
  { name: 'CR/LF in an address', message: { to: `a@example.net\r\nBcc: ${EVIL}`, text: 'x' }, expect: rejected('invalid_message', /\$\.to/) },
  { name: 'NUL in an address', message: { to: 'a\u0000@example.net', text: 'x' }, expect: rejected('invalid_message', /\$\.to/) },
  {
    name: 'bare LF in a recipient object address',
    message: { to: [{ name: 'A', address: `a@example.net\nBcc: ${EVIL}` }], text: 'x' },
    expect: rejected('invalid_message', /\$\.to\[0\]\.address/),
  },
  {
    name: 'header injection in subject',
    message: { to: 'a@example.net', subject: `Hello\r\nBcc: ${EVIL}`, text: 'x' },
    expect: rejected('invalid_message', /\$\.subject: must not contain CR, LF or NUL/),
  },
  {
    name: 'header injection in a display name',
    message: { to: [{ name: `Eve\r\nBcc: ${EVIL}`, address: 'a@example.net' }], text: 'x' },
    expect: rejected('invalid_message', /\$\.to\[0\]\.name/),
  },
  {
    name: 'header injection in a quoted display name',
    message: { to: `"Eve\r\nBcc: ${EVIL}" <a@example.net>`, text: 'x' },
    expect: rejected('invalid_message', /\$\.to/),
  },
  {
    name: 'header injection in a custom header value',
    message: { to: 'a@example.net', text: 'x', headers: { 'X-Ticket': `1\r\nBcc: ${EVIL}` } },
    expect: rejected('invalid_message', /X-Ticket/),
  },
  {
    name: 'header injection in a custom header name',
    message: { to: 'a@example.net', text: 'x', headers: { [`X-A: 1\r\nBcc`]: EVIL } },
    expect: rejected('invalid_message', /is not a header field name/),
  },
  {
    name: 'a custom header the relay owns (Bcc)',
    message: { to: 'a@example.net', text: 'x', headers: { bcc: EVIL } },
    expect: rejected('invalid_message', /bcc/i),
  },
  {
    name: 'header injection in an attachment content type',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.pdf', contentType: `application/pdf\r\nBcc: ${EVIL}`, content: 'AAAA' }] },
    expect: rejected('invalid_message', /contentType/),
  },
  {
    name: 'header injection in an attachment file name',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: `a.pdf\r\nBcc: ${EVIL}`, content: 'AAAA' }] },
    expect: rejected('invalid_message', /filename/),
  },
  {
    name: 'CR/LF in the id (it becomes the Message-ID)',
    message: { id: `a\r\nBcc: ${EVIL}`, to: 'a@example.net', text: 'x' },
    expect: rejected('invalid_message', /\$\.id/),
  },
  {
    name: 'a file path as attachment content is not read',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'passwd', path: '/etc/passwd' }] },
    expect: rejected('invalid_message', /path|content/),
  },

  // ----------------------------------------------------------------- encoding
  {
    name: 'non-ASCII subject and display names are encoded (RFC 2047) and decode back equal',
    message: {
      to: [{ name: 'Zoë Ångström', address: 'zoe@example.net' }, 'Jürgen Groß <juergen@example.net>'],
      cc: [{ name: '山田 太郎', address: 'taro@example.net' }],
      subject: 'Überweisung — 請求書 №42 ✓ 🚀',
      text: 'Grüße ✓',
    },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.equal(parsed.subject, 'Überweisung — 請求書 №42 ✓ 🚀');
        assert.deepEqual(addresses(parsed, 'to'), [
          { name: 'Zoë Ångström', address: 'zoe@example.net' },
          { name: 'Jürgen Groß', address: 'juergen@example.net' },
        ]);
        assert.deepEqual(addresses(parsed, 'cc'), [{ name: '山田 太郎', address: 'taro@example.net' }]);
        assert.equal(parsed.text?.trim(), 'Grüße ✓');
        assertAsciiHeaders(raw);
        assert.match(headerSection(raw), /^Subject: =\?UTF-8\?/m, 'subject as encoded words');
      },
    },
  },
  {
    name: 'a subject that looks like an encoded word is sent as text, not interpreted',
    message: { to: 'a@example.net', subject: '=?UTF-8?B?QmNjOiBldmlsQGV4YW1wbGUub3Jn?=', text: 'x' },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.equal(parsed.subject, '=?UTF-8?B?QmNjOiBldmlsQGV4YW1wbGUub3Jn?=');
        assertAsciiHeaders(raw);
      },
    },
  },
  {
    name: 'a display name and a header value that look like encoded words are sent as text',
    message: { to: [{ name: '=?UTF-8?B?QmNjOiBldmlsQGV4YW1wbGUub3Jn?=', address: 'a@example.net' }], text: 'x', headers: { 'X-Note': '=?UTF-8?Q?hidden?=' } },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.equal(addresses(parsed, 'to')[0]!.name, '=?UTF-8?B?QmNjOiBldmlsQGV4YW1wbGUub3Jn?=');
        assert.doesNotMatch(headerSection(raw), /X-Note: =\?UTF-8\?Q\?hidden\?=/, 'the look-alike is not passed through for readers to decode');
        assertAsciiHeaders(raw);
      },
    },
  },
  {
    name: 'a very long non-ASCII subject is folded, not truncated',
    message: { to: 'a@example.net', subject: 'Ünïcödé '.repeat(60).trim(), text: 'x' },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.equal(parsed.subject, 'Ünïcödé '.repeat(60).trim());
        for (const line of headerSection(raw).split('\r\n')) assert.ok(line.length <= 998, 'no header line over 998 characters');
        assertAsciiHeaders(raw);
      },
    },
  },
  {
    name: 'internationalised domain: delivered to the same domain (U-label with SMTPUTF8, or its A-label)',
    message: { to: 'Jörg <joerg@bücher.example>', text: 'x' },
    expect: {
      outcome: 'delivered',
      check(parsed, _raw, envelope) {
        assert.equal(envelope.rcptTo.length, 1);
        const [local, domain] = envelope.rcptTo[0]!.split('@');
        assert.equal(local, 'joerg');
        assert.equal(domainToASCII(domain!), 'xn--bcher-kva.example');
        assert.equal(addresses(parsed, 'to')[0]!.name, 'Jörg');
        assert.equal(domainToASCII(addresses(parsed, 'to')[0]!.address.split('@')[1]!), 'xn--bcher-kva.example');
      },
    },
  },
  {
    name: 'internationalised local part (SMTPUTF8): delivered to exactly that mailbox',
    message: { to: '用户@例子.广告', text: 'x' },
    utf8Headers: true,
    expect: {
      outcome: 'delivered',
      check(parsed, _raw, envelope) {
        const [local, domain] = envelope.rcptTo[0]!.split('@');
        assert.equal(local, '用户');
        assert.equal(domainToASCII(domain!), domainToASCII('例子.广告'));
        assert.equal(addresses(parsed, 'to')[0]!.address.split('@')[0], '用户');
      },
    },
  },

  // -------------------------------------------------------------- attachments
  {
    name: 'invalid base64 in an attachment',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.bin', content: 'not base64!!' }] },
    expect: rejected('invalid_message', /attachments\[0\]\.content.*base64/),
  },
  {
    name: 'base64 with line breaks (MIME style) in an attachment',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.bin', content: 'AAAA\r\nAAAA' }] },
    expect: rejected('invalid_message', /base64/),
  },
  {
    name: 'an attachment whose declared type lies is delivered byte for byte under the declared type',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf', content: PNG.toString('base64') }] },
    expect: {
      outcome: 'delivered',
      check(parsed) {
        const [attachment] = parsed.attachments;
        assert.equal(attachment!.filename, 'invoice.pdf');
        assert.equal(attachment!.contentType, 'application/pdf', 'the declared type, not a guess');
        assert.ok(attachment!.content.equals(PNG), 'the bytes as given');
      },
    },
  },
  // ------------------------------------------------ header lines (RFC 5322 §2.1.1)
  {
    name: 'a 2,000-character subject and header value without spaces: encoded, every line within 998 octets, decoded back equal',
    message: { to: 'a@example.net', subject: 'S'.repeat(2000), text: 'x', headers: { 'X-Long': 'H'.repeat(2000) } },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.equal(parsed.subject, 'S'.repeat(2000));
        assert.equal(decodedHeader(parsed, 'x-long'), 'H'.repeat(2000));
        assertLineLimits(raw);
        for (const line of fieldLines(raw, 'Subject').concat(fieldLines(raw, 'X-Long'))) assert.ok(line.length <= 78, `folded to 78: ${line.length}`);
      },
    },
  },
  {
    name: 'a 255-character file name and a 250-character content id: every line within 998 octets',
    message: {
      to: 'a@example.net',
      html: '<img src="cid:x">',
      attachments: [
        { filename: `${'f'.repeat(251)}.pdf`, content: 'AAAA' },
        { filename: `${'ü'.repeat(251)}.png`, content: PNG.toString('base64'), contentType: 'image/png', contentId: `${'c'.repeat(237)}@example.net` },
      ],
    },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        const byName = new Map(parsed.attachments.map((attachment) => [attachment.filename, attachment]));
        assert.deepEqual([...byName.keys()].sort(), [`${'f'.repeat(251)}.pdf`, `${'ü'.repeat(251)}.png`]);
        assert.equal(byName.get(`${'ü'.repeat(251)}.png`)!.cid, `${'c'.repeat(237)}@example.net`);
        assertLineLimits(raw);
      },
    },
  },
  {
    name: 'an ASCII display name of 2,000 characters without spaces',
    message: { to: [{ name: 'N'.repeat(2000), address: 'a@example.net' }], text: 'x' },
    expect: rejected('invalid_message', /\$\.to\[0\]\.name: has 2000 characters without a space/),
  },
  {
    name: 'a msg-id of 2,000 characters in References (sent verbatim, cannot be encoded)',
    message: { to: 'a@example.net', text: 'x', headers: { References: `<${'r'.repeat(2000)}@example.net>` } },
    expect: rejected('invalid_message', /\$\.headers\.References: has 2014 characters without a space/),
  },
  {
    name: 'non-ASCII in In-Reply-To (nodemailer would send it as raw 8-bit)',
    message: { to: 'a@example.net', text: 'x', headers: { 'In-Reply-To': '<grüße@example.net>' } },
    expect: rejected('invalid_message', /\$\.headers\.In-Reply-To: must be printable ASCII/),
  },
  {
    name: 'a header name of 100 characters (a field name cannot be folded)',
    message: { to: 'a@example.net', text: 'x', headers: { [`X-${'N'.repeat(98)}`]: 'v' } },
    expect: rejected('invalid_message', /must NOT have more than 76 characters/),
  },

  // ------------------------------------------------------ attachment file names
  {
    name: 'attachment file names with paths, drive letters and bidirectional overrides arrive as their base names',
    message: {
      to: 'a@example.net',
      text: 'x',
      attachments: [
        { filename: '../../etc/passwd', content: 'AAAA' },
        { filename: '..\\..\\Startup\\run.exe', content: 'AAAA' },
        { filename: 'C:\\Users\\ada\\invoice.pdf', content: 'AAAA' },
        { filename: 'C:invoice.pdf', content: 'AAAA' },
        { filename: 'reports\uFF0F2026\uFF3Cq1.xlsx', content: 'AAAA' },
        { filename: 'invoice\u202Efdp.exe', content: 'AAAA' },
      ],
    },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.deepEqual(
          parsed.attachments.map((attachment) => attachment.filename),
          ['passwd', 'run.exe', 'invoice.pdf', 'invoice.pdf', 'q1.xlsx', 'invoicefdp.exe'],
        );
        for (const value of fileNameParameters(raw))
          assert.doesNotMatch(value, /[/\\\uFF0F\uFF3C\u202E]/, `a delivered name holds a path or override: ${value}`);
      },
    },
  },
  {
    name: 'an attachment file name that is only a path',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: '../', content: 'AAAA' }] },
    expect: rejected('invalid_message', /\$\.attachments\[0\]\.filename: names no file/),
  },

  // ------------------------------------------------- headers only servers write
  {
    name: 'forged trace, authentication and transport headers are refused, each named',
    message: {
      to: 'a@example.net',
      text: 'x',
      headers: {
        Received: 'from trusted.contoso.com',
        'Resent-From': 'ceo@contoso.com',
        'Authentication-Results': 'mx.contoso.com; dkim=pass; spf=pass; dmarc=pass',
        'ARC-Seal': 'i=1; cv=none',
        'X-MS-Exchange-Organization-SCL': '-1',
        'X-MS-Exchange-Organization-AuthAs': 'Internal',
        'Errors-To': EVIL,
      },
    },
    expect: rejected(
      'invalid_message',
      /Received: is a trace field.*Resent-From: is a trace field.*Authentication-Results: carries authentication.*ARC-Seal: carries authentication.*X-MS-Exchange-Organization-SCL: carries a mail system's own.*X-MS-Exchange-Organization-AuthAs: carries.*Errors-To: asks receiving systems/,
    ),
  },

  // --------------------------------------------------- attachment content types
  {
    name: 'multipart/* and message/* attachments (declared or guessed from .eml) go out as base64 application/octet-stream: no producer boundary, no raw NUL in DATA',
    message: {
      to: 'a@example.net',
      text: 'x',
      attachments: [
        {
          filename: 'nested.txt',
          contentType: 'multipart/mixed; boundary=EVILBOUNDARY',
          content: Buffer.from('--EVILBOUNDARY\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--EVILBOUNDARY--').toString('base64'),
        },
        { filename: 'forward.eml', contentType: 'message/rfc822', content: NUL_MESSAGE.toString('base64') },
        { filename: 'guessed.eml', content: NUL_MESSAGE.toString('base64') },
      ],
    },
    expect: {
      outcome: 'delivered',
      check(parsed, raw) {
        assert.ok(!raw.includes(0), 'no NUL byte in DATA');
        assert.ok(!raw.toString('latin1').includes('boundary=EVILBOUNDARY'), 'the producer boundary does not reach the wire');
        // As sent (mailparser itself guesses a type from the extension of an octet-stream part).
        const types = [...raw.toString('latin1').matchAll(/^Content-Type: ([^;\r\n]+)(.*)\r\nContent-Transfer-Encoding: (\S+)/gm)].map(
          (match) => `${match[1]}${match[2]} ${match[3]}`,
        );
        assert.deepEqual(types.slice(1), [
          'application/octet-stream; name=nested.txt base64',
          'application/octet-stream; name=forward.eml base64',
          'application/octet-stream; name=guessed.eml base64',
        ]);
        assert.ok(parsed.attachments[1]!.content.equals(NUL_MESSAGE) && parsed.attachments[2]!.content.equals(NUL_MESSAGE), 'the bytes as given');
      },
    },
  },
  {
    name: 'content type parameters other than a known charset never reach the wire',
    message: {
      to: 'a@example.net',
      text: 'x',
      attachments: [{ filename: 'a.txt', contentType: 'text/plain; charset=UTF-8; boundary=zz; name=evil.exe; x-extra="1"', content: 'AAAA' }],
    },
    expect: {
      outcome: 'delivered',
      check(_parsed, raw) {
        assert.match(raw.toString('latin1'), /^Content-Type: text\/plain; charset=utf-8; name=a\.txt$/m);
        assert.doesNotMatch(raw.toString('latin1'), /boundary=zz|evil\.exe|x-extra/);
      },
    },
  },
  {
    name: 'an attachment charset of UTF-7',
    message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.html', contentType: 'text/html; charset=utf-7', content: 'AAAA' }] },
    expect: rejected('invalid_message', /\$\.attachments\[0\]\.contentType: has charset "utf-7"/),
  },

  // ------------------------------------------------------------------ addresses
  {
    name: 'a recipient string holding two addresses is refused, not cut to one',
    message: { to: 'A <a@example.net> <b@example.org>', text: 'x' },
    expect: rejected('invalid_message', /\$\.to: must be exactly one e-mail address/),
  },
  {
    name: 'a display name showing another address (string form)',
    message: { to: '"ceo@contoso.com" <a@example.net>', text: 'x' },
    expect: rejected('invalid_message', /\$\.to: has a display name that shows the address ceo@contoso\.com, not its own a@example\.net/),
  },
  {
    name: 'a display name showing another address with a fullwidth @ (object form)',
    message: { to: [{ name: 'ceo＠contoso.com', address: 'a@example.net' }], text: 'x' },
    expect: rejected('invalid_message', /\$\.to\[0\]\.name: has a display name that shows the address ceo@contoso\.com/),
  },
];

/** RFC 5322 §2.1.1: every line, header or body, of at most 998 octets (CRLF not counted). */
export function assertLineLimits(raw: Buffer): void {
  let start = 0;
  for (let index = raw.indexOf(10); index >= 0; index = raw.indexOf(10, start)) {
    const length = index - start - (raw[index - 1] === 13 ? 1 : 0);
    assert.ok(length <= 998, `a line of ${length} octets: ${raw.subarray(start, start + 60).toString('latin1')}…`);
    start = index + 1;
  }
  assert.ok(raw.length - start <= 998, 'the last line');
}

/** The physical lines (first and folded continuations) of a top-level header field. */
export function fieldLines(raw: Buffer, name: string): string[] {
  const lines = headerSection(raw).split('\r\n');
  const first = lines.findIndex((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  if (first < 0) return [];
  let end = first + 1;
  while (end < lines.length && /^[ \t]/.test(lines[end]!)) end += 1;
  return lines.slice(first, end);
}

/** Every filename=/name= parameter value in all part headers, decoded as a reader would (RFC 2231 sections joined, RFC 2047 words). */
export function fileNameParameters(raw: Buffer): string[] {
  const unfolded = raw.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
  const values: string[] = [];
  for (const line of unfolded.split('\r\n')) {
    if (!/^Content-(Type|Disposition):/i.test(line)) continue;
    const sections = [...line.matchAll(/;\s*((?:file)?name)(\*\d+)?(\*?)=("(?:[^"\\]|\\.)*"|[^;]*)/gi)];
    for (const key of new Set(sections.map((section) => section[1]!.toLowerCase()))) {
      // The sections' bytes join before decoding: a UTF-8 sequence may span two of them.
      const bytes = sections
        .filter((section) => section[1]!.toLowerCase() === key)
        .map(([, , , extended, value]) => {
          const unquoted = value!.startsWith('"') ? value!.slice(1, -1).replace(/\\(.)/g, '$1') : value!;
          if (!extended) return Buffer.from(unquoted, 'latin1');
          const percent = unquoted.replace(/^[^']*'[^']*'/, '');
          return Buffer.from(
            percent.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          );
        });
      values.push(decodeEncodedWords(Buffer.concat(bytes).toString('utf8')));
    }
  }
  return values;
}

/** RFC 2047 decoding for a custom header (mailparser decodes only the headers it knows). Adjacent words join; their bytes concatenate. */
export function decodeEncodedWords(value: string): string {
  const word = /=\?([^?\s]+)\?([bq])\?([^?\s]*)\?=/gi;
  const pieces: Array<string | Buffer> = [];
  let last = 0;
  for (const match of value.matchAll(word)) {
    const between = value.slice(last, match.index);
    const adjacent = pieces.length > 0 && Buffer.isBuffer(pieces.at(-1)) && /^\s*$/.test(between);
    if (!adjacent && between) pieces.push(between);
    const [, , encoding, text] = match;
    const bytes =
      encoding!.toUpperCase() === 'B'
        ? Buffer.from(text!, 'base64')
        : Buffer.from(
            text!.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          );
    if (adjacent) pieces[pieces.length - 1] = Buffer.concat([pieces.at(-1) as Buffer, bytes]);
    else pieces.push(bytes);
    last = match.index + match[0].length;
  }
  pieces.push(value.slice(last));
  return pieces.map((piece) => (Buffer.isBuffer(piece) ? piece.toString('utf8') : piece)).join('');
}

/** A custom header as mailparser hands it back, decoded: the parser keeps unknown headers as text. */
export function decodedHeader(parsed: ParsedMail, name: string): string {
  const value = parsed.headers.get(name) ?? '';
  assert.equal(typeof value, 'string', `${name} parses as text`);
  return decodeEncodedWords(value as string);
}

export function headerSection(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.slice(0, text.indexOf('\r\n\r\n'));
}

/** Headers are 7-bit (unless SMTPUTF8), every line is a field or a folded continuation, and nothing was injected. */
export function assertAsciiHeaders(raw: Buffer, utf8 = false): void {
  const head = headerSection(raw);
  if (!utf8) assert.ok(/^[\x20-\x7e\r\n\t]*$/.test(head), 'header section is printable ASCII');
  assert.ok(!/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(head), 'no control characters in headers');
  for (const line of head.split('\r\n')) assert.ok(/^([!-9;-~]+:|[ \t])/.test(line), `malformed header line: ${JSON.stringify(line)}`);
  assert.ok(!/^bcc:/im.test(head), 'no Bcc header');
  assert.ok(!raw.toString('utf8').includes(EVIL), 'nothing injected');
}
