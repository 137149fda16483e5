/**
 * What the dead-letter record says about a queue message that is not a JSON
 * object: exactly what arrived (nothing, which kind of JSON value, text that is
 * not JSON, base64 whose decoded text is not JSON), the parser's error quoted
 * from the text that was meant as JSON, bounded and without control characters.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError } from '../../../src/core/errors';
import { parsePayload } from '../../../src/message/payload';

function description(payload: unknown): string {
  try {
    parsePayload(payload);
  } catch (error) {
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.reason, 'invalid_json');
    assert.equal(error.kind, 'permanent');
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(payload)}`);
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** JSON.parse's own words about `text`. */
function parseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail(`${text} is JSON`);
}

describe('descriptions of queue messages that are not a JSON object', () => {
  const cases: Array<{ name: string; payload: unknown; description: string }> = [
    // As the Functions host hands them over: it parses JSON text first.
    { name: 'null (the host parsed the text null)', payload: null, description: 'the queue message is JSON null, not a JSON object' },
    { name: 'a number (the host parsed 42)', payload: 42, description: 'the queue message is a JSON number, not a JSON object' },
    { name: 'a boolean', payload: false, description: 'the queue message is a JSON boolean, not a JSON object' },
    { name: 'an array', payload: [{ to: 'a@example.net' }], description: 'the queue message is a JSON array, not a JSON object' },
    {
      name: 'a JSON string (the host hands over its content)',
      payload: 'to: a@example.net',
      description: `the queue message is not a JSON object but a JSON string, or text that is neither JSON nor base64-encoded JSON (${parseError('to: a@example.net')})`,
    },
    // As raw text or bytes (no host parsing).
    { name: 'the text null', payload: 'null', description: 'the queue message is JSON null, not a JSON object' },
    { name: 'a JSON string as text', payload: '"to: a@example.net"', description: 'the queue message is a JSON string, not a JSON object' },
    { name: 'a number as text', payload: ' 42\n', description: 'the queue message is a JSON number, not a JSON object' },
    { name: 'a number as bytes', payload: Buffer.from('1234'), description: 'the queue message is a JSON number, not a JSON object' },
    { name: 'base64 of a JSON string', payload: base64('"hello"'), description: 'the queue message is base64 of a JSON string, not of a JSON object' },
    { name: 'base64 of null', payload: base64('null'), description: 'the queue message is base64 of JSON null, not of a JSON object' },
    {
      name: 'base64 text whose decoded text is not JSON: the decoded text is quoted',
      payload: base64('to: a@example.net'),
      description: `the queue message is base64 text whose decoded text is not JSON (${parseError('to: a@example.net')})`,
    },
    {
      name: 'base64 of truncated JSON',
      payload: base64('{"to": "a@example.net", "subject": '),
      description: `the queue message is base64 text whose decoded text is not JSON (${parseError('{"to": "a@example.net", "subject": ')})`,
    },
    {
      name: 'a word that is base64 by accident ("test" decodes to bytes that are not text)',
      payload: 'test',
      description: `the queue message is not a JSON object but a JSON string, or text that is neither JSON nor base64-encoded JSON (${parseError('test')})`,
    },
    {
      name: 'broken JSON text (meant as an object, not a string)',
      payload: '{"to": "a@example.net",',
      description: `the queue message is neither JSON nor base64-encoded JSON (${parseError('{"to": "a@example.net",')})`,
    },
    {
      name: 'bytes that are not JSON',
      payload: Buffer.from('hello'),
      description: `the queue message is neither JSON nor base64-encoded JSON (${parseError('hello')})`,
    },
  ];
  for (const item of cases) {
    it(item.name, () => {
      assert.equal(description(item.payload), `Invalid queue message: ${item.description}.`);
    });
  }

  it('quotes the parser error with line breaks and control characters escaped, at most 200 characters of it', () => {
    const texts = [
      // Text that is not JSON: the parser quotes its start, CR, LF and NUL included.
      { payload: `\u0001\r\n${'\u0000'.repeat(10)}`, quoted: /^Unexpected token '\\u0001', "\\u0001\\u000d\\u000a(\\u0000){10}" is not valid JSON$/ },
      // Base64 of text that is not JSON: the decoded text is quoted, line separators escaped.
      {
        payload: base64(`\u2028Bcc: evil@example.org${'x'.repeat(60_000)}`),
        quoted: /^Unexpected token '\\u2028', "\\u2028Bcc: [^"]*"\.\.\. is not valid JSON$/,
      },
    ];
    for (const { payload, quoted } of texts) {
      const text = description(payload);
      assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      const error = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      assert.match(error, quoted);
      assert.ok(error.length <= 200, `${error.length} characters`);
      assert.ok(!text.includes(payload.slice(4, 16)), 'the base64 text itself is not quoted');
    }
  });

  it('says empty for no payload and for blank text', () => {
    for (const payload of [undefined, '', ' \n', Buffer.alloc(0), '\uFEFF']) {
      assert.equal(description(payload), 'Invalid queue message: the queue message is empty.');
    }
  });
});

describe('payloads that are messages', () => {
  it('reads an object, its JSON text and its base64 (whose decoded text may hold C1 and DEL characters)', () => {
    const message = { to: 'a@example.net', text: 'x\u0085\u007f' };
    for (const payload of [message, JSON.stringify(message), base64(JSON.stringify(message)), Buffer.from(base64(JSON.stringify(message)))]) {
      assert.deepEqual(parsePayload(payload), message);
    }
  });
});
