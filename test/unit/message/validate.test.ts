import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MailSettings } from '../../../src/settings';
import { echoInput } from '../../../src/core/echo';
import { RelayError, type ReasonCode } from '../../../src/core/errors';
import { InvalidMessageError, decodeQueueText, parseQueueMessage, type RelayMessage } from '../../../src/message/validate';

const MAIL: MailSettings = {
  user: 'relay@contoso.com',
  from: 'relay@contoso.com',
  allowedFrom: ['alerts@contoso.com', 'støtte@bücher.de'],
  maxRecipients: 5,
};

const MINIMAL_TEXT = '{"to":"ada@example.com","text":"Hello"}';
const MINIMAL: RelayMessage = {
  from: { address: 'relay@contoso.com' },
  to: [{ address: 'ada@example.com' }],
  cc: [],
  bcc: [],
  replyTo: [],
  headers: {},
  attachments: [],
  text: 'Hello',
};

function rejection(payload: unknown, mail: MailSettings = MAIL): RelayError {
  try {
    parseQueueMessage(payload, mail);
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected RelayError, got ${String(error)}`);
    return error;
  }
  assert.fail('the message was accepted');
}

function problemsOf(payload: unknown, mail: MailSettings = MAIL): { reason: ReasonCode; problems: string[] } {
  const error = rejection(payload, mail);
  assert.ok(error instanceof InvalidMessageError, `expected InvalidMessageError, got ${error.reason}: ${error.message}`);
  assert.equal(error.kind, 'permanent');
  for (const item of error.problems) assert.ok(error.message.includes(`${item.path}: ${item.problem}`));
  return { reason: error.reason, problems: error.problems.map((item) => `${item.path}: ${item.problem}`) };
}

describe('payload forms', () => {
  const forms: Array<{ name: string; payload: unknown }> = [
    { name: 'an object parsed by the Functions host', payload: { to: 'ada@example.com', text: 'Hello' } },
    { name: 'plain JSON text', payload: MINIMAL_TEXT },
    { name: 'JSON text with a byte-order mark and spaces', payload: `\uFEFF  ${MINIMAL_TEXT}\n` },
    { name: 'base64 of JSON text', payload: Buffer.from(MINIMAL_TEXT).toString('base64') },
    { name: 'a Buffer of JSON text', payload: Buffer.from(MINIMAL_TEXT) },
    { name: 'a Uint8Array of base64 text', payload: new TextEncoder().encode(Buffer.from(MINIMAL_TEXT).toString('base64')) },
  ];
  for (const form of forms) {
    it(`accepts ${form.name}`, () => {
      assert.deepEqual(parseQueueMessage(form.payload, MAIL), MINIMAL);
    });
  }

  const notJson: Array<{ name: string; payload: unknown }> = [
    { name: 'text that is not JSON', payload: 'Hello, relay' },
    { name: 'truncated JSON', payload: '{"to":"ada@example.com",' },
    { name: 'base64 of text that is not JSON', payload: Buffer.from('to: ada@example.com').toString('base64') },
    { name: 'an empty string', payload: '' },
    { name: 'an empty buffer', payload: Buffer.alloc(0) },
    { name: 'null', payload: null },
    { name: 'undefined', payload: undefined },
  ];
  for (const form of notJson) {
    it(`rejects ${form.name} as invalid_json`, () => {
      const error = rejection(form.payload);
      assert.equal(error.reason, 'invalid_json');
      assert.equal(error.kind, 'permanent');
      assert.ok(error.remedy);
    });
  }

  it('rejects JSON that is not an object as invalid_json, naming what it is', () => {
    const kinds: Array<[unknown, string]> = [
      ['[]', 'a JSON array'],
      ['"text"', 'a JSON string'],
      [42, 'a JSON number'],
      [true, 'a JSON boolean'],
      [null, 'JSON null'],
    ];
    for (const [payload, kind] of kinds) {
      const error = rejection(payload);
      assert.equal(error.reason, 'invalid_json');
      assert.equal(error.message, `Invalid queue message: the queue message is ${kind}, not a JSON object.`);
    }
  });
});

describe('decodeQueueText', () => {
  it('returns the original text for strings and bytes, and JSON for objects', () => {
    const base64 = Buffer.from(MINIMAL_TEXT).toString('base64');
    assert.equal(decodeQueueText(base64), base64);
    assert.equal(decodeQueueText('not json at all'), 'not json at all');
    assert.equal(decodeQueueText(Buffer.from('Grüße')), 'Grüße');
    assert.equal(decodeQueueText(new Uint8Array(Buffer.from('{"a":1}'))), '{"a":1}');
    assert.equal(decodeQueueText({ to: 'ada@example.com', text: 'Hello' }), MINIMAL_TEXT);
    assert.equal(decodeQueueText(undefined), '');
  });
});

describe('valid messages', () => {
  const cases: Array<{ name: string; payload: Record<string, unknown>; expect: Partial<RelayMessage> }> = [
    {
      name: 'display names in strings and objects',
      payload: { to: ['Ada Lovelace <ada@example.com>', { name: 'Grace Hopper', address: 'grace@example.com' }], text: 'x' },
      expect: {
        to: [
          { name: 'Ada Lovelace', address: 'ada@example.com' },
          { name: 'Grace Hopper', address: 'grace@example.com' },
        ],
      },
    },
    {
      name: 'a quoted display name with a comma',
      payload: { to: '"Lovelace, Ada" <ada@example.com>', text: 'x' },
      expect: { to: [{ name: 'Lovelace, Ada', address: 'ada@example.com' }] },
    },
    {
      name: 'only bcc recipients, an html body and reply-to',
      payload: { bcc: { address: 'hidden@example.com' }, html: '<p>x</p>', replyTo: 'Support <support@contoso.com>' },
      expect: { to: [], bcc: [{ address: 'hidden@example.com' }], replyTo: [{ name: 'Support', address: 'support@contoso.com' }], html: '<p>x</p>' },
    },
    {
      name: 'internationalised addresses',
      payload: { to: ['Jürgen <jürgen@bücher.de>', '用户@例子.广告'], cc: { address: 'δοκιμή@παράδειγμα.δοκιμή' }, text: 'x' },
      expect: {
        to: [{ name: 'Jürgen', address: 'jürgen@bücher.de' }, { address: '用户@例子.广告' }],
        cc: [{ address: 'δοκιμή@παράδειγμα.δοκιμή' }],
      },
    },
    {
      name: 'a sender from the allow-list, compared case-insensitively',
      payload: { from: 'Alerts <ALERTS@Contoso.COM>', to: 'ada@example.com', text: 'x' },
      expect: { from: { name: 'Alerts', address: 'ALERTS@Contoso.COM' } },
    },
    {
      name: 'an allowed IDN sender written in punycode',
      payload: { from: { address: 'STØTTE@xn--bcher-kva.de' }, to: 'ada@example.com', text: 'x' },
      expect: { from: { address: 'STØTTE@xn--bcher-kva.de' } },
    },
    {
      name: 'MAIL_FROM with a display name',
      payload: { from: 'Contoso Relay <relay@contoso.com>', to: 'ada@example.com', text: 'x' },
      expect: { from: { name: 'Contoso Relay', address: 'relay@contoso.com' } },
    },
    {
      name: 'subject, id and extra headers',
      payload: {
        id: 'order-4711/confirmation',
        subject: 'Grüße 👋',
        to: 'ada@example.com',
        text: 'x',
        headers: { 'X-Ticket': '4711', 'List-Unsubscribe': '<mailto:u@contoso.com>' },
      },
      expect: { id: 'order-4711/confirmation', subject: 'Grüße 👋', headers: { 'X-Ticket': '4711', 'List-Unsubscribe': '<mailto:u@contoso.com>' } },
    },
    {
      name: 'exactly the recipient limit (reply-to not counted)',
      payload: {
        to: ['a@example.com', 'b@example.com'],
        cc: 'c@example.com',
        bcc: ['d@example.com', 'e@example.com'],
        replyTo: ['f@example.com', 'g@example.com'],
        text: 'x',
      },
      expect: { bcc: [{ address: 'd@example.com' }, { address: 'e@example.com' }] },
    },
    {
      name: 'attachments decoded from base64, inline image with contentId',
      payload: {
        to: 'ada@example.com',
        html: '<img src="cid:logo@contoso.com">',
        attachments: [
          { filename: 'report.txt', content: 'SGVsbG8sIHdvcmxkIQ==' },
          { filename: 'logo.png', contentType: 'image/png', content: 'iVBORw0KGgo=', contentId: 'logo@contoso.com' },
          { filename: 'empty.bin', contentType: 'application/octet-stream; name=empty.bin', content: '' },
        ],
      },
      expect: {
        attachments: [
          { filename: 'report.txt', content: Buffer.from('Hello, world!') },
          {
            filename: 'logo.png',
            contentType: 'image/png',
            content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
            contentId: 'logo@contoso.com',
          },
          { filename: 'empty.bin', contentType: 'application/octet-stream; name=empty.bin', content: Buffer.alloc(0) },
        ],
      },
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const message = parseQueueMessage(testCase.payload, MAIL);
      for (const [key, value] of Object.entries(testCase.expect)) assert.deepEqual(message[key as keyof RelayMessage], value, key);
    });
  }

  it('keeps a header called __proto__ an ordinary header', () => {
    const message = parseQueueMessage(JSON.parse('{"to":"ada@example.com","text":"x","headers":{"__proto__":"v"}}'), MAIL);
    assert.deepEqual(Object.keys(message.headers), ['__proto__']);
    assert.equal(Object.getPrototypeOf(message.headers), Object.prototype);
  });
});

describe('invalid messages list every problem with its path', () => {
  const roomy: MailSettings = { ...MAIL, maxRecipients: 100 };
  const cases: Array<{ name: string; payload: unknown; reason?: ReasonCode; problems: string[] }> = [
    {
      name: 'empty object',
      payload: {},
      problems: ['$: needs a body: text, html or both', '$: needs at least one recipient in to, cc or bcc'],
    },
    {
      name: 'unknown fields (typos)',
      payload: { to: 'ada@example.com', text: 'x', body: 'y', Subject: 'z' },
      problems: ['$.body: is not a known field', '$.Subject: is not a known field'],
    },
    {
      name: 'recipients of the wrong type',
      payload: { to: 42, cc: [true], bcc: [['ada@example.com']], text: 'x' },
      problems: [
        '$.to: must be a recipient (an address string or a {name, address} object) or an array of recipients',
        '$.cc[0]: must be an address string or a {name, address} object',
        '$.bcc[0]: must be an address string or a {name, address} object',
      ],
    },
    {
      name: 'malformed addresses',
      payload: {
        to: [
          'ada',
          'ada@',
          '@example.com',
          'ada@example',
          'a b@example.com',
          'ada@exa_mple.com',
          'ada@1.2.3.4',
          'ada@example.com (Ada)',
          'Ada <ada@example.com> x',
        ],
        text: 'x',
      },
      problems: [0, 1, 2, 3, 4, 5, 6, 7, 8].map(
        (index) => `$.to[${index}]: must be exactly one e-mail address, written "a@example.com" or "Name <a@example.com>"`,
      ),
    },
    {
      name: 'several addresses or a group in one string',
      payload: { to: ['ada@example.com, grace@example.com', 'Team: ada@example.com;'], text: 'x' },
      problems: [
        '$.to[0]: must be exactly one e-mail address, written "a@example.com" or "Name <a@example.com>"',
        '$.to[1]: must be exactly one e-mail address, written "a@example.com" or "Name <a@example.com>"',
      ],
    },
    {
      name: 'recipient objects',
      payload: { to: [{ name: 'Ada' }, { address: 'Ada <ada@example.com>' }, { address: 'ada@example.com', email: 'x' }], text: 'x' },
      problems: ['$.to[0].address: is required', '$.to[1].address: must be an e-mail address (local@domain)', '$.to[2].email: is not a known field'],
    },
    {
      name: 'bodies, subject and id of the wrong type or form',
      payload: { to: 'ada@example.com', text: 1, html: null, subject: ['x'], id: '' },
      problems: ['$.id: must NOT have fewer than 1 characters', '$.subject: must be a string', '$.text: must be a string', '$.html: must be a string'],
    },
    {
      name: 'id too long or not ASCII',
      payload: [
        { to: 'ada@example.com', text: 'x', id: 'x'.repeat(201) },
        { to: 'ada@example.com', text: 'x', id: 'bestellung-ä' },
      ],
      problems: [],
    },
    {
      name: 'attachments',
      payload: {
        to: 'ada@example.com',
        text: 'x',
        attachments: [
          { content: 'aGk=' },
          { filename: 'a.txt', content: 'aGk' },
          { filename: 'b.txt', content: 'aGVs\nbG8=' },
          { filename: 'c.txt', content: 'aGVsbG8=', contentType: 'text' },
          { filename: 'd.png', content: 'aGVsbG8=', contentId: '<logo>' },
          { filename: 'e.txt', path: '/etc/passwd' },
          'f.txt',
        ],
      },
      problems: [
        '$.attachments[0].filename: is required',
        '$.attachments[1].content: must be standard base64 (A-Z a-z 0-9 + /, padded with =, no line breaks or spaces)',
        '$.attachments[2].content: must be standard base64 (A-Z a-z 0-9 + /, padded with =, no line breaks or spaces)',
        '$.attachments[3].contentType: must be a MIME type such as application/pdf',
        '$.attachments[4].contentId: must be printable ASCII without spaces or angle brackets',
        '$.attachments[5]: needs exactly one of "content" (the bytes in base64) and "blob" (the name of a blob holding them)',
        '$.attachments[5].path: is not a known field',
        '$.attachments[6]: must be an object',
      ],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const payloads = Array.isArray(testCase.payload) ? testCase.payload : [testCase.payload];
      for (const payload of payloads) {
        const result = problemsOf(payload, roomy);
        assert.equal(result.reason, testCase.reason ?? 'invalid_message');
        if (testCase.problems.length > 0) assert.deepEqual(result.problems, testCase.problems);
        else assert.equal(result.problems.length, 1);
      }
    });
  }

  it('reports structural, header, recipient-cap and sender problems together', () => {
    const error = rejection({
      from: 'mallory@evil.example',
      to: ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com', 'e@example.com', 'not an address'],
      subject: 'Hi\r\nBcc: victim@example.com',
      headers: { Bcc: 'victim@example.com' },
      text: 'x',
      priority: 'high',
    });
    assert.ok(error instanceof InvalidMessageError);
    assert.equal(error.reason, 'invalid_message');
    assert.deepEqual(
      error.problems.map((item) => item.path),
      ['$.priority', '$.to[5]', '$.subject', '$.headers.Bcc', '$', '$.from'],
    );
    assert.match(error.message, /^Invalid queue message \(6 problems\): \$\.priority: is not a known field; /);
    const json = error.toJSON();
    assert.equal(json.reason, 'invalid_message');
    assert.deepEqual(json.problems, error.problems);
  });
});

describe('header injection and owned headers', () => {
  const injections: Array<{ name: string; payload: Record<string, unknown>; path: string }> = [
    { name: 'CRLF in the subject', payload: { subject: 'Hi\r\nBcc: victim@example.com' }, path: '$.subject' },
    { name: 'bare LF in the subject', payload: { subject: 'Hi\nX-Evil: 1' }, path: '$.subject' },
    { name: 'NUL in the subject', payload: { subject: 'Hi\u0000' }, path: '$.subject' },
    { name: 'CRLF in a display name', payload: { cc: { name: 'Ada\r\nBcc: victim@example.com', address: 'ada@example.com' } }, path: '$.cc.name' },
    { name: 'CRLF in an address string', payload: { cc: 'ada@example.com\r\nBcc: victim@example.com' }, path: '$.cc' },
    { name: 'CRLF in an address object', payload: { cc: { address: 'ada@example.com\r\n' } }, path: '$.cc.address' },
    { name: 'CRLF in a header value', payload: { headers: { 'X-Ticket': '1\r\nBcc: victim@example.com' } }, path: '$.headers.X-Ticket' },
    { name: 'colon in a header name', payload: { headers: { 'X-A: 1\r\nBcc': 'victim@example.com' } }, path: '$.headers["X-A: 1\\r\\nBcc"]' },
    { name: 'space in a header name', payload: { headers: { 'X Ticket': '1' } }, path: '$.headers["X Ticket"]' },
    { name: 'non-ASCII header name', payload: { headers: { 'X-Größe': '1' } }, path: '$.headers["X-Größe"]' },
    { name: 'CRLF in a file name', payload: { attachments: [{ filename: 'a.txt"\r\nX-Evil: 1', content: '' }] }, path: '$.attachments[0].filename' },
    {
      name: 'CRLF in a content type',
      payload: { attachments: [{ filename: 'a', contentType: 'text/plain\r\nX-Evil: 1', content: '' }] },
      path: '$.attachments[0].contentType',
    },
    { name: 'CRLF in a content id', payload: { attachments: [{ filename: 'a', contentId: 'a\r\nb', content: '' }] }, path: '$.attachments[0].contentId' },
    { name: 'CRLF in the id', payload: { id: 'a\r\nb' }, path: '$.id' },
  ];
  for (const testCase of injections) {
    it(`refuses ${testCase.name}`, () => {
      const result = problemsOf({ to: 'ada@example.com', text: 'x', ...testCase.payload });
      assert.equal(result.reason, 'invalid_message');
      assert.equal(result.problems.length, 1, result.problems.join('\n'));
      assert.ok(result.problems[0]!.startsWith(`${testCase.path}: `), result.problems[0]);
    });
  }

  const owned = [
    'From',
    'To',
    'Cc',
    'Bcc',
    'Reply-To',
    'Subject',
    'Message-ID',
    'Date',
    'MIME-Version',
    'Content-Type',
    'Content-Transfer-Encoding',
    'Sender',
    'content-disposition',
    'CONTENT-ID',
    'message-id',
  ];
  for (const name of owned) {
    it(`refuses the owned header ${name}`, () => {
      const result = problemsOf({ to: 'ada@example.com', text: 'x', headers: { [name]: 'value', 'X-Allowed': 'fine' } });
      assert.deepEqual(result.problems, [`$.headers.${name}: is written by the relay and cannot be set by a message`]);
    });
  }

  const forged: Array<[string, RegExp]> = [
    ['Return-Path', /trace field/],
    ['Received', /trace field/],
    ['resent-from', /trace field/],
    ['Resent-Bcc', /trace field/],
    ['Authentication-Results', /authentication results/],
    ['ARC-Seal', /authentication results/],
    ['arc-authentication-results', /authentication results/],
    ['DKIM-Signature', /authentication results/],
    ['Received-SPF', /authentication results/],
    ['DomainKey-Signature', /authentication results/],
    ['BIMI-Indicator', /authentication results/],
    ['Autocrypt', /authentication results/],
    ['X-MS-Exchange-Organization-SCL', /transport or filtering/],
    ['X-MS-Exchange-Organization-AuthAs', /transport or filtering/],
    ['x-ms-exchange-crosstenant-id', /transport or filtering/],
    ['X-MS-Has-Attach', /transport or filtering/],
    ['X-Forefront-Antispam-Report', /transport or filtering/],
    ['X-Microsoft-Antispam', /transport or filtering/],
    ['X-Microsoft-Antispam-Mailbox-Delivery', /transport or filtering/],
    ['X-Google-DKIM-Signature', /transport or filtering/],
    ['X-Spam-Flag', /transport or filtering/],
    ['Delivered-To', /transport or filtering/],
    ['X-Original-To', /transport or filtering/],
    ['TLS-Required', /transport or filtering/],
    ['Errors-To', /automatic mail/],
    ['Return-Receipt-To', /automatic mail/],
    ['Disposition-Notification-To', /automatic mail/],
  ];
  for (const [name, problem] of forged) {
    it(`refuses ${name}, which only mail systems write`, () => {
      const result = problemsOf({ to: 'ada@example.com', text: 'x', headers: { [name]: 'value', 'X-Allowed': 'fine' } });
      assert.equal(result.problems.length, 1, result.problems.join('\n'));
      assert.ok(result.problems[0]!.startsWith(`$.headers.${name}: `), result.problems[0]);
      assert.match(result.problems[0]!, problem);
    });
  }

  it('accepts the headers producers have good reason to set', () => {
    const headers = {
      'List-Unsubscribe': '<https://contoso.com/unsubscribe?token=abc>, <mailto:unsubscribe@contoso.com>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'List-Id': 'Invoices <invoices.contoso.com>',
      'Auto-Submitted': 'auto-generated',
      'In-Reply-To': '<order-4711@contoso.com>',
      References: '<a@contoso.com> <b@contoso.com>',
      'X-Auto-Response-Suppress': 'All',
      'X-MS-Reactions': 'disallow',
      'X-Mailer': 'Billing 2.1',
      Keywords: 'invoice, 2026',
      Importance: 'high',
    };
    assert.deepEqual(parseQueueMessage({ to: 'ada@example.com', text: 'x', headers }, MAIL).headers, headers);
  });
});

describe('header lines stay within RFC 5322 limits', () => {
  it('refuses a header name longer than 76 characters', () => {
    const name = `X-${'N'.repeat(75)}`;
    assert.deepEqual(problemsOf({ to: 'ada@example.com', text: 'x', headers: { [name]: 'v' } }).problems, [
      // The name is echoed cut to the shared bound (src/core/echo.ts).
      `$.headers[${JSON.stringify(echoInput(name))}]: must NOT have more than 76 characters`,
    ]);
    assert.doesNotThrow(() => parseQueueMessage({ to: 'ada@example.com', text: 'x', headers: { [`X-${'N'.repeat(74)}`]: 'v' } }, MAIL));
  });

  it('refuses a verbatim field (msg-ids, list URLs) that is not ASCII or holds a run too long for a line', () => {
    const result = problemsOf({
      to: 'ada@example.com',
      text: 'x',
      headers: {
        'In-Reply-To': '<ü@contoso.com>',
        References: `<${'r'.repeat(901)}@contoso.com>`,
        'List-Unsubscribe': `<https://contoso.com/${'u'.repeat(1000)}>`,
        'OTP-Token': 'ü',
      },
    });
    assert.deepEqual(result.problems, [
      '$.headers.In-Reply-To: must be printable ASCII: programs read this field as written, so it cannot be encoded',
      '$.headers.References: has 915 characters without a space; at most 900 in a row fit a header line (RFC 5322 §2.1.1)',
      '$.headers.List-Unsubscribe: has 1022 characters without a space; at most 900 in a row fit a header line (RFC 5322 §2.1.1)',
      '$.headers.OTP-Token: must be printable ASCII: programs read this field as written, so it cannot be encoded',
    ]);
  });

  it('accepts long unbroken text in the subject and custom headers (it is encoded)', () => {
    const long = 'A'.repeat(5000);
    const message = parseQueueMessage({ to: 'ada@example.com', subject: long, text: 'x', headers: { 'X-Long': long } }, MAIL);
    assert.equal(message.subject, long);
    assert.equal(message.headers['X-Long'], long);
  });

  it('refuses an ASCII display name with more than 75 characters in a row, in every address field and form', () => {
    const name = 'N'.repeat(76);
    const result = problemsOf({
      from: { name, address: 'relay@contoso.com' },
      to: [`${name} <ada@example.com>`],
      cc: { name, address: 'cc@example.com' },
      bcc: [{ name: '"'.repeat(41), address: 'bcc@example.com' }],
      replyTo: `"${name}" <reply@contoso.com>`,
      text: 'x',
    });
    const tooLong = /has \d+ characters without a space; a display name in ASCII may have at most 75 in a row/;
    assert.deepEqual(
      result.problems.map((problem) => problem.slice(0, problem.indexOf(':'))),
      ['$.from.name', '$.to[0]', '$.cc.name', '$.bcc[0].name', '$.replyTo'],
    );
    for (const problem of result.problems) assert.match(problem, tooLong);
    assert.match(result.problems[3]!, /has 82 characters/, 'quotes count as their escaped form');
  });

  it('accepts long display names that fold or are encoded: words of at most 75, or any non-ASCII name', () => {
    const folded = `${'N'.repeat(75)} ${'M'.repeat(75)}`;
    const nonAscii = `Zoë ${'N'.repeat(500)}`;
    const message = parseQueueMessage(
      {
        to: [
          { name: folded, address: 'a@example.com' },
          { name: nonAscii, address: 'b@example.com' },
        ],
        text: 'x',
      },
      MAIL,
    );
    assert.deepEqual(
      message.to.map((mailbox) => mailbox.name),
      [folded, nonAscii],
    );
  });
});

describe('addresses mean what they say', () => {
  it('refuses a recipient string holding two addresses instead of cutting it to one', () => {
    for (const to of ['A <a@x.test> <b@y.test>', '<a@x.test> <b@y.test>', 'A <<a@x.test>>', 'A <a@x.test> <b@y.test>, C <c@z.test>']) {
      const result = problemsOf({ to, text: 'x' });
      assert.deepEqual(result.problems, ['$.to: must be exactly one e-mail address, written "a@example.com" or "Name <a@example.com>"'], to);
    }
  });

  it('refuses a display name that shows another address, in string and object forms and in every field', () => {
    const result = problemsOf({
      from: '"ceo@contoso.com" <relay@contoso.com>',
      to: ['ceo@contoso.com <x@evil.test>', { name: 'CEO (ceo@contoso.com)', address: 'x@evil.test' }],
      cc: { name: 'ceo＠contoso．com', address: 'x@evil.test' },
      bcc: { name: 'ceo@contoso。com', address: 'x@evil.test' },
      replyTo: { name: 'ceo@con​toso.com', address: 'x@evil.test' },
      text: 'x',
    });
    assert.deepEqual(result.problems, [
      '$.from: has a display name that shows the address ceo@contoso.com, not its own relay@contoso.com',
      '$.to[0]: has a display name that shows the address ceo@contoso.com, not its own x@evil.test',
      '$.to[1].name: has a display name that shows the address ceo@contoso.com, not its own x@evil.test',
      '$.cc.name: has a display name that shows the address ceo@contoso.com, not its own x@evil.test',
      '$.bcc.name: has a display name that shows the address ceo@contoso.com, not its own x@evil.test',
      '$.replyTo.name: has a display name that shows the address ceo@contoso.com, not its own x@evil.test',
    ]);
  });

  it('accepts a display name that shows its own address, or no address at all', () => {
    const message = parseQueueMessage(
      {
        to: [
          '"ada@example.com" <ADA@example.com>',
          { name: "O'Brien <o'brien@example.com>", address: "o'brien@example.com" },
          { name: 'Team @ Contoso', address: 't@example.com' },
        ],
        cc: { name: "'jürgen@bücher.de'", address: 'jürgen@xn--bcher-kva.de' },
        text: 'x',
      },
      MAIL,
    );
    assert.equal(message.to.length, 3);
    assert.equal(message.cc.length, 1);
  });
});

describe('attachment names and types', () => {
  it('keeps only the base name of a file name, without control or bidirectional characters', () => {
    const names: Array<[string, string]> = [
      ['../../etc/passwd', 'passwd'],
      ['..\\..\\Startup\\run.exe', 'run.exe'],
      ['C:\\Users\\ada\\invoice.pdf', 'invoice.pdf'],
      ['C:invoice.pdf', 'invoice.pdf'],
      ['/absolute/report.csv', 'report.csv'],
      ['reports\uFF0F2026\uFF3Cq1.xlsx', 'q1.xlsx'],
      ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
      ['a\u0007b\u2066c\u2069.txt', 'abc.txt'],
      ['Zoë Ångström – Bericht.pdf', 'Zoë Ångström – Bericht.pdf'],
    ];
    const message = parseQueueMessage({ to: 'ada@example.com', text: 'x', attachments: names.map(([filename]) => ({ filename, content: '' })) }, MAIL);
    assert.deepEqual(
      message.attachments.map((attachment) => attachment.filename),
      names.map(([, base]) => base),
    );
  });

  it('refuses a file name with nothing left once its path and invisible characters are removed', () => {
    const result = problemsOf({
      to: 'ada@example.com',
      text: 'x',
      attachments: ['../', '..', 'C:\\', '\u202E', 'a/.'].map((filename) => ({ filename, content: '' })),
    });
    assert.deepEqual(
      result.problems,
      [0, 1, 2, 3, 4].map((index) => `$.attachments[${index}].filename: names no file once its folder path and control characters are removed`),
    );
  });

  it('refuses a charset that readers do not all decode alike, and ambiguous charsets', () => {
    const result = problemsOf({
      to: 'ada@example.com',
      text: 'x',
      attachments: [
        { filename: 'a.html', contentType: 'text/html; charset=utf-7', content: '' },
        { filename: 'b.txt', contentType: 'text/plain; charset="UTF-7"', content: '' },
        { filename: 'c.txt', contentType: 'text/plain; charset=utf-8; charset=iso-8859-1', content: '' },
        { filename: 'd.txt', contentType: 'text/plain; charset=x-user-defined', content: '' },
      ],
    });
    assert.deepEqual(
      result.problems.map((problem) => problem.slice(0, problem.indexOf(':'))),
      [0, 1, 2, 3].map((index) => `$.attachments[${index}].contentType`),
    );
    assert.match(result.problems[0]!, /charset "utf-7"/);
    assert.match(result.problems[2]!, /more than one charset/);
  });

  it('refuses a type or subtype longer than RFC 6838 allows', () => {
    const result = problemsOf({
      to: 'ada@example.com',
      text: 'x',
      attachments: [{ filename: 'a', contentType: `application/${'x'.repeat(128)}`, content: '' }],
    });
    assert.deepEqual(result.problems, ['$.attachments[0].contentType: must be a MIME type such as application/pdf']);
  });
});

describe('sender allow-list and recipient cap', () => {
  it('refuses a sender that is neither MAIL_FROM nor allowed', () => {
    assert.deepEqual(problemsOf({ from: 'CEO <ceo@contoso.com>', to: 'ada@example.com', text: 'x' }), {
      reason: 'sender_not_allowed',
      problems: ['$.from: ceo@contoso.com is neither MAIL_FROM nor listed in MAIL_ALLOWED_FROM'],
    });
  });

  it('allows only MAIL_FROM when the allow-list is empty', () => {
    const mail = { ...MAIL, from: 'noreply@contoso.com', allowedFrom: [] };
    assert.equal(parseQueueMessage({ to: 'ada@example.com', text: 'x' }, mail).from.address, 'noreply@contoso.com');
    assert.equal(problemsOf({ from: 'alerts@contoso.com', to: 'ada@example.com', text: 'x' }, mail).reason, 'sender_not_allowed');
  });

  it('refuses more recipients than MAIL_MAX_RECIPIENTS across to, cc and bcc', () => {
    const result = problemsOf({
      to: ['a@example.com', 'b@example.com'],
      cc: ['c@example.com', 'd@example.com'],
      bcc: ['e@example.com', 'f@example.com'],
      text: 'x',
    });
    assert.deepEqual(result, {
      reason: 'too_many_recipients',
      problems: ['$: has 6 recipients in to, cc and bcc; at most 5 are allowed (MAIL_MAX_RECIPIENTS)'],
    });
  });

  it('names too_many_recipients before sender_not_allowed and lists both', () => {
    const result = problemsOf({ from: 'x@evil.example', to: Array.from({ length: 6 }, (_, index) => `r${index}@example.com`), text: 'x' });
    assert.equal(result.reason, 'too_many_recipients');
    assert.equal(result.problems.length, 2);
  });

  it('gives each reason a remedy', () => {
    for (const payload of [{}, { from: 'x@evil.example', to: 'a@example.com', text: 'x' }]) assert.ok(rejection(payload).remedy);
  });
});
