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
import type { ReasonCode } from '../../src/errors';

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
  { name: 'JSON string, not an object', text: '"to: a@example.net"', expect: rejected('invalid_json', /is not a JSON object but a JSON string, or text that is neither JSON nor base64-encoded JSON \(Unexpected token 'o', "to: a@example\.net" is not valid JSON\)\.$/) },
  { name: 'JSON number', text: '42', expect: rejected('invalid_json', /is a JSON number, not a JSON object\.$/) },
  // The host hands JSON null over parsed, as null: not an empty message.
  { name: 'JSON null', text: 'null', expect: rejected('invalid_json', /is JSON null, not a JSON object\.$/) },
  // The parse error quoted is the decoded text's, not the base64 text's.
  { name: 'base64 of text that is not JSON', text: Buffer.from('to: a@example.net').toString('base64'), expect: rejected('invalid_json', /is base64 text whose decoded text is not JSON \(Unexpected token 'o', "to: a@example\.net" is not valid JSON\)\.$/) },
  // As deep as a queue message can hold (64 KiB): deeper than JSON.stringify can recurse.
  { name: 'deeply nested JSON (32,000 levels)', text: deeplyNested(32_000), expect: rejected('invalid_message', /nested/) },
  { name: 'deeply nested objects in a header value', text: `{"to":"a@example.net","text":"x","headers":{"X-A":${'{"a":'.repeat(9000)}1${'}'.repeat(9000)}}}`, expect: rejected('invalid_message', /X-A/) },

  // ---------------------------------------------------------------- the shape
  { name: 'wrong types', message: { to: 42, subject: ['x'], text: { body: 'x' } }, expect: rejected('invalid_message', /\$\.to.*\$\.subject|\$\.subject.*\$\.to/) },
  { name: 'unknown field (a typo)', message: { to: 'a@example.net', text: 'x', attachements: [] }, expect: rejected('invalid_message', /attachements/) },
  { name: 'empty recipients', message: { to: [], cc: [], text: 'x' }, expect: rejected('invalid_message', /at least one recipient/) },
  { name: 'no body', message: { to: 'a@example.net', subject: 'x' }, expect: rejected('invalid_message', /text|html/) },

  // ------------------------------------------------------ injection attempts
  { name: 'CR/LF in an address', message: { to: `a@example.net\r\nBcc: ${EVIL}`, text: 'x' }, expect: rejected('invalid_message', /\$\.to/) },
  { name: 'NUL in an address', message: { to: 'a\u0000@example.net', text: 'x' }, expect: rejected('invalid_message', /\$\.to/) },
  { name: 'bare LF in a recipient object address', message: { to: [{ name: 'A', address: `a@example.net\nBcc: ${EVIL}` }], text: 'x' }, expect: rejected('invalid_message', /\$\.to\[0\]\.address/) },
  { name: 'header injection in subject', message: { to: 'a@example.net', subject: `Hello\r\nBcc: ${EVIL}`, text: 'x' }, expect: rejected('invalid_message', /\$\.subject: must not contain CR, LF or NUL/) },
  { name: 'header injection in a display name', message: { to: [{ name: `Eve\r\nBcc: ${EVIL}`, address: 'a@example.net' }], text: 'x' }, expect: rejected('invalid_message', /\$\.to\[0\]\.name/) },
  { name: 'header injection in a quoted display name', message: { to: `"Eve\r\nBcc: ${EVIL}" <a@example.net>`, text: 'x' }, expect: rejected('invalid_message', /\$\.to/) },
  { name: 'header injection in a custom header value', message: { to: 'a@example.net', text: 'x', headers: { 'X-Ticket': `1\r\nBcc: ${EVIL}` } }, expect: rejected('invalid_message', /X-Ticket/) },
  { name: 'header injection in a custom header name', message: { to: 'a@example.net', text: 'x', headers: { [`X-A: 1\r\nBcc`]: EVIL } }, expect: rejected('invalid_message', /is not a header field name/) },
  { name: 'a custom header the relay owns (Bcc)', message: { to: 'a@example.net', text: 'x', headers: { bcc: EVIL } }, expect: rejected('invalid_message', /bcc/i) },
  { name: 'header injection in an attachment content type', message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.pdf', contentType: `application/pdf\r\nBcc: ${EVIL}`, content: 'AAAA' }] }, expect: rejected('invalid_message', /contentType/) },
  { name: 'header injection in an attachment file name', message: { to: 'a@example.net', text: 'x', attachments: [{ filename: `a.pdf\r\nBcc: ${EVIL}`, content: 'AAAA' }] }, expect: rejected('invalid_message', /filename/) },
  { name: 'CR/LF in the id (it becomes the Message-ID)', message: { id: `a\r\nBcc: ${EVIL}`, to: 'a@example.net', text: 'x' }, expect: rejected('invalid_message', /\$\.id/) },
  { name: 'a file path as attachment content is not read', message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'passwd', path: '/etc/passwd' }] }, expect: rejected('invalid_message', /path|content/) },

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
        assert.deepEqual(addresses(parsed, 'to'), [{ name: 'Zoë Ångström', address: 'zoe@example.net' }, { name: 'Jürgen Groß', address: 'juergen@example.net' }]);
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
  { name: 'invalid base64 in an attachment', message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.bin', content: 'not base64!!' }] }, expect: rejected('invalid_message', /attachments\[0\]\.content.*base64/) },
  { name: 'base64 with line breaks (MIME style) in an attachment', message: { to: 'a@example.net', text: 'x', attachments: [{ filename: 'a.bin', content: 'AAAA\r\nAAAA' }] }, expect: rejected('invalid_message', /base64/) },
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
];

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
