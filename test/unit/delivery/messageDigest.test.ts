/**
 * The content digest the ledger compares (issue 9, point 5): the same message
 * in any of its accepted forms gives one digest; any change to what would be
 * sent gives another; a blob attachment counts by its name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MailSettings } from '../../../src/settings';
import { parseQueueMessage } from '../../../src/message/validate';
import { messageDigest } from '../../../src/delivery/messageDigest';

const mail: MailSettings = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: ['billing@example.com'], maxRecipients: 500 };
const digest = (payload: unknown, settings: MailSettings = mail) => messageDigest(parseQueueMessage(payload, settings), settings.from);

const base = {
  id: 'invoice-42',
  to: ['Ana Souza <ana@example.net>'],
  subject: 'Invoice 42',
  text: 'Total: 10 EUR',
  headers: { 'X-Ticket': '4711', 'X-Customer': 'c-9' },
  attachments: [{ filename: 'a.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.7 one').toString('base64') }],
};

test('one message, one digest: JSON whitespace and key order, base64 text, address and header forms do not matter', () => {
  const reference = digest(base);
  assert.match(reference, /^rm1:sha256:[0-9a-f]{64}$/);
  assert.equal(digest(JSON.stringify(base, null, 2)), reference);
  assert.equal(digest(Buffer.from(JSON.stringify(base)).toString('base64')), reference);
  const reordered = {
    attachments: base.attachments,
    headers: { 'X-Customer': 'c-9', 'X-Ticket': '4711' },
    text: base.text,
    subject: base.subject,
    to: base.to,
    id: base.id,
  };
  assert.equal(digest(reordered), reference);
  assert.equal(digest({ ...base, to: [{ name: 'Ana Souza', address: 'ana@example.net' }] }), reference);
  assert.equal(digest({ ...base, to: 'Ana Souza <ana@example.net>' }), reference);
  assert.equal(digest({ ...base, from: 'relay@example.com' }), reference, 'from defaults to MAIL_FROM');
});

test('anything the relay would send differently changes the digest', () => {
  const reference = digest(base);
  const variants: Array<Record<string, unknown>> = [
    { id: 'invoice-43' },
    { from: 'billing@example.com' },
    { to: ['Ana <ana@example.net>'] },
    { cc: 'boss@example.net' },
    { bcc: 'audit@example.net' },
    { replyTo: 'support@example.com' },
    { subject: 'Invoice 43' },
    { text: 'Total: 20 EUR' },
    { html: '<p>Total</p>' },
    { headers: { 'X-Ticket': '4712', 'X-Customer': 'c-9' } },
    { attachments: [{ ...base.attachments[0], content: Buffer.from('%PDF-1.7 two').toString('base64') }] },
    { attachments: [{ ...base.attachments[0], filename: 'b.pdf' }] },
    { attachments: [{ ...base.attachments[0], contentId: 'logo' }] },
    { attachments: [{ filename: 'a.pdf', contentType: 'application/pdf', blob: 'invoices/42.pdf' }] },
  ];
  const seen = new Set([reference]);
  for (const variant of variants) {
    const value = digest({ ...base, ...variant });
    assert.ok(!seen.has(value), JSON.stringify(variant));
    seen.add(value);
  }
  // Moving text from one field to another is a different message too.
  assert.notEqual(digest({ to: 'a@example.net', subject: 'x', text: 'y' }), digest({ to: 'a@example.net', subject: 'xy', text: '' }));
});

test('a blob attachment counts by its name: the blob is not read to take the digest', () => {
  const byName = (blob: string) => digest({ ...base, attachments: [{ filename: 'big.bin', blob }] });
  assert.equal(byName('reports/big.bin'), byName('reports/big.bin'));
  assert.notEqual(byName('reports/big.bin'), byName('reports/other.bin'));
});

test('a message without from stays the same message when MAIL_FROM changes (a fixed sender, then replay)', () => {
  const fixed: MailSettings = { ...mail, from: 'invoices@example.com', allowedFrom: ['relay@example.com'] };
  assert.equal(digest(base, fixed), digest(base), 'both mean "the default sender"');
  assert.equal(digest({ ...base, from: 'relay@example.com' }), digest(base), 'naming the default sender is the same as omitting it');
  assert.notEqual(digest({ ...base, from: 'relay@example.com' }, fixed), digest(base, fixed), 'another sender than the default is another message');
});
