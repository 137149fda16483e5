import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { MailSettings } from '../../../src/settings';
import { stableMessageId, toMailOptions } from '../../../src/message/compose';
import { parseQueueMessage, type RelayMessage } from '../../../src/message/validate';

const MAIL: MailSettings = {
  user: 'relay@contoso.com',
  from: 'relay@contoso.com',
  allowedFrom: ['alerts@contoso.com', 'støtte@bücher.de'],
  maxRecipients: 500,
};

interface Built {
  raw: string;
  headerLines: string[];
  envelope: { from: string | false; to: string[] };
  messageId: string;
  parsed: ParsedMail;
}

/** Builds the message exactly as the relay's transport would, without a server. */
async function build(message: RelayMessage): Promise<Built> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const info = await transport.sendMail(toMailOptions(message, MAIL));
  const raw = (info.message as Buffer).toString('utf8');
  const headerLines = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
  return { raw, headerLines, envelope: info.envelope, messageId: info.messageId, parsed: await simpleParser(raw) };
}

function fromPayload(payload: Record<string, unknown>): RelayMessage {
  return parseQueueMessage(payload, MAIL);
}

function addresses(field: AddressObject | AddressObject[] | undefined): Array<{ name: string; address?: string }> {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list.flatMap((item) => item.value.map((entry) => ({ name: entry.name, address: entry.address })));
}

describe('toMailOptions', () => {
  it('encodes non-ASCII subjects and display names so they arrive intact', async () => {
    const subject = 'Grüße aus München — 日本語のテスト 👋 with a long tail to force header folding across lines';
    const built = await build(
      fromPayload({
        from: 'Zoë from Alerts <alerts@contoso.com>',
        to: ['Jürgen Müller <juergen@example.com>', '"Lovelace, Ada" <ada@example.com>'],
        subject,
        text: 'Schöne Grüße',
        html: '<p>Schöne Grüße</p>',
      }),
    );
    assert.equal(built.parsed.subject, subject);
    assert.deepEqual(addresses(built.parsed.from), [{ name: 'Zoë from Alerts', address: 'alerts@contoso.com' }]);
    assert.deepEqual(addresses(built.parsed.to), [
      { name: 'Jürgen Müller', address: 'juergen@example.com' },
      { name: 'Lovelace, Ada', address: 'ada@example.com' },
    ]);
    assert.equal(built.parsed.text?.trim(), 'Schöne Grüße');
    assert.equal(built.parsed.html, '<p>Schöne Grüße</p>');
    for (const line of built.headerLines) assert.match(line, /^[\x20-\x7e\t]*$/, `raw header line is not ASCII: ${line}`);
  });

  it('uses the resolved sender as envelope sender and every recipient, bcc included, as envelope recipients', async () => {
    const built = await build(
      fromPayload({ to: 'ada@example.com', cc: 'grace@example.com', bcc: ['hidden@example.com'], replyTo: 'support@contoso.com', text: 'x' }),
    );
    assert.deepEqual(built.envelope, { from: 'relay@contoso.com', to: ['ada@example.com', 'grace@example.com', 'hidden@example.com'] });
    assert.deepEqual(addresses(built.parsed.from), [{ name: '', address: 'relay@contoso.com' }]);
    assert.deepEqual(addresses(built.parsed.replyTo), [{ name: '', address: 'support@contoso.com' }]);
    assert.equal(built.parsed.headers.get('sender'), undefined);
  });

  it('adds a Sender header naming the mailbox only when From is another address', async () => {
    const other = await build(fromPayload({ from: 'alerts@contoso.com', to: 'ada@example.com', text: 'x' }));
    assert.equal(other.envelope.from, 'alerts@contoso.com');
    assert.deepEqual(addresses(other.parsed.headers.get('sender') as AddressObject), [{ name: '', address: 'relay@contoso.com' }]);

    const same = await build(fromPayload({ from: 'Relay <RELAY@contoso.com>', to: 'ada@example.com', text: 'x' }));
    assert.equal(same.parsed.headers.get('sender'), undefined);
  });

  it('derives a stable Message-ID from the idempotency key and the From domain', async () => {
    const payload = { id: 'invoice-2026-0042', to: 'ada@example.com', text: 'x' };
    const first = await build(fromPayload(payload));
    const again = await build(fromPayload(payload));
    const otherId = await build(fromPayload({ ...payload, id: 'invoice-2026-0043' }));
    assert.match(first.messageId, /^<[0-9a-f]{40}@contoso\.com>$/);
    assert.equal(again.messageId, first.messageId);
    assert.equal(first.parsed.messageId, first.messageId);
    assert.notEqual(otherId.messageId, first.messageId);
    assert.equal(stableMessageId('invoice-2026-0042', 'someone@CONTOSO.com'), first.messageId);
    assert.match(stableMessageId('x', 'støtte@bücher.de'), /@xn--bcher-kva\.de>$/);
  });

  it('lets nodemailer generate Message-ID and Date when there is no id', async () => {
    const one = await build(fromPayload({ to: 'ada@example.com', text: 'x' }));
    const two = await build(fromPayload({ to: 'ada@example.com', text: 'x' }));
    assert.match(one.messageId, /^<.+@contoso\.com>$/);
    assert.notEqual(one.messageId, two.messageId);
    assert.ok(one.parsed.date instanceof Date);
  });

  it('passes extra headers through, non-ASCII values as RFC 2047 encoded words', async () => {
    const built = await build(fromPayload({ to: 'ada@example.com', text: 'x', headers: { 'X-Ticket': '4711', 'X-Note': 'Grüße' } }));
    assert.equal(built.parsed.headers.get('x-ticket'), '4711');
    // mailparser leaves unknown headers encoded; Q-encoding of UTF-8 "Grüße".
    assert.ok(built.headerLines.includes('X-Note: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?='), built.headerLines.join('\n'));
  });

  it('attaches decoded files and embeds inline images by cid', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const built = await build(
      fromPayload({
        to: 'ada@example.com',
        html: '<p><img src="cid:logo@contoso.com"></p>',
        attachments: [
          { filename: 'Bericht März.txt', content: Buffer.from('Hello, world!').toString('base64') },
          { filename: 'logo.png', contentType: 'image/png', content: png.toString('base64'), contentId: 'logo@contoso.com' },
        ],
      }),
    );
    const report = built.parsed.attachments.find((item) => item.filename !== 'logo.png');
    const logo = built.parsed.attachments.find((item) => item.filename === 'logo.png');
    assert.equal(report?.filename, 'Bericht März.txt');
    assert.equal(report?.contentDisposition, 'attachment');
    assert.deepEqual(report?.content, Buffer.from('Hello, world!'));
    assert.equal(logo?.filename, 'logo.png');
    assert.equal(logo?.contentType, 'image/png');
    assert.equal(logo?.cid, 'logo@contoso.com');
    assert.equal(logo?.related, true);
    assert.deepEqual(logo?.content, png);
  });

  it('never lets the message make the relay read a file or URL', () => {
    const options = toMailOptions(fromPayload({ to: 'ada@example.com', text: 'x', attachments: [{ filename: 'a.txt', content: 'aGk=' }] }), MAIL);
    assert.equal(options.disableFileAccess, true);
    assert.equal(options.disableUrlAccess, true);
    for (const attachment of options.attachments ?? []) {
      assert.equal(attachment.path, undefined);
      assert.equal(attachment.href, undefined);
      assert.ok(Buffer.isBuffer(attachment.content));
    }
  });

  it('keeps CR and LF out of the headers even if a message bypassed validation', async () => {
    const hostile: RelayMessage = {
      from: { name: 'Relay\r\nBcc: victim1@example.com', address: 'relay@contoso.com' },
      to: [{ name: 'Ada\nX-Evil: 1', address: 'ada@example.com' }],
      cc: [],
      bcc: [],
      replyTo: [],
      subject: 'Hi\r\nBcc: victim2@example.com',
      text: 'x',
      headers: { 'X-Ticket': '1\r\nBcc: victim3@example.com' },
      attachments: [{ filename: 'a.txt\r\nX-Evil: 2', content: Buffer.from('x') }],
    };
    const built = await build(hostile);
    assert.deepEqual(built.envelope.to, ['ada@example.com']);
    assert.equal(built.parsed.bcc, undefined);
    assert.equal(built.parsed.headers.get('x-evil'), undefined);
    for (const line of built.raw.split('\r\n')) assert.doesNotMatch(line, /^(Bcc|X-Evil):/i);
    assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(built.raw), 'no bare CR or LF in the raw message');
  });

  it('sends internationalised addresses unchanged', async () => {
    const built = await build(fromPayload({ from: 'støtte@bücher.de', to: 'Jürgen <jürgen@bücher.de>', text: 'x' }));
    assert.deepEqual(built.envelope, { from: 'støtte@bücher.de', to: ['jürgen@bücher.de'] });
  });

  it('encodes a long unbroken subject and header value, so every header line folds to 78; verbatim fields stay as written', async () => {
    const built = await build(
      fromPayload({
        to: 'ada@example.com',
        subject: 'S'.repeat(2000),
        text: 'x',
        headers: { 'X-Long': `a ${'L'.repeat(300)} b`, 'List-Unsubscribe': `<https://contoso.com/u/${'t'.repeat(200)}>` },
      }),
    );
    assert.equal(built.parsed.subject, 'S'.repeat(2000));
    const listLines = built.headerLines.filter(
      (line, index, lines) =>
        line.startsWith('List-Unsubscribe:') ||
        (/^[ \t]/.test(line) &&
          lines
            .slice(0, index)
            .reverse()
            .find((l) => !/^[ \t]/.test(l))
            ?.startsWith('List-Unsubscribe:')),
    );
    assert.equal(listLines.join('').replace(/^List-Unsubscribe:\s*/, ''), `<https://contoso.com/u/${'t'.repeat(200)}>`, 'a URL is never encoded');
    for (const line of built.headerLines) {
      if (!listLines.includes(line)) assert.ok(line.length <= 78, `header line of ${line.length}: ${line.slice(0, 40)}`);
    }
  });

  it('sends attachments base64 under their base name, multipart and message types as octet-stream, even if a message bypassed validation', async () => {
    const hostile: RelayMessage = {
      from: { address: 'relay@contoso.com' },
      to: [{ address: 'ada@example.com' }],
      cc: [],
      bcc: [],
      replyTo: [],
      text: 'x',
      headers: {},
      attachments: [
        { filename: '../../a.eml', contentType: 'message/rfc822', content: Buffer.from('From: x\r\n\r\n\u0000') },
        { filename: 'C:\\tmp\\b.txt', contentType: 'Multipart/Mixed; boundary=XYZ', content: Buffer.from('--XYZ--') },
        { filename: 'c.eml', content: Buffer.from('\u0000') },
        { filename: 'd.csv', contentType: 'text/csv; charset=utf-7; name=e.exe', content: Buffer.from('a,b\n') },
      ],
    };
    const options = toMailOptions(hostile, MAIL);
    assert.deepEqual(
      options.attachments!.map((attachment) => [attachment.filename, attachment.contentType, attachment.contentTransferEncoding]),
      [
        ['a.eml', 'application/octet-stream', 'base64'],
        ['b.txt', 'application/octet-stream', 'base64'],
        ['c.eml', 'application/octet-stream', 'base64'],
        ['d.csv', 'text/csv', 'base64'],
      ],
    );
    const built = await build(hostile);
    assert.ok(!built.raw.includes('\u0000'), 'no NUL in the message');
    assert.doesNotMatch(built.raw, /boundary=XYZ|utf-7|e\.exe/);
  });
});
