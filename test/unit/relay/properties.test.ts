/**
 * Property-based tests (fast-check) of the handler on generated input. The
 * sender composes each accepted message with nodemailer into real MIME
 * (stream transport) and mailparser reads it back, so the properties speak
 * about the bytes a server would receive:
 *
 * - any payload whatsoever ends delivered or dead-lettered with a message
 *   reason, never a crash, never a retry, and the original is recorded as given;
 * - any text in subject, display names and custom header values is either
 *   refused (it held CR, LF or NUL) or arrives decoded back equal, in 7-bit
 *   well-formed headers with no header the message did not ask for;
 * - an injected line break never produces a delivered message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { relayQueueMessage, type RelayDependencies } from '../../../src/relay/handler';
import type { DeadLetterInput, MessageSender } from '../../../src/delivery/ports';
import { decodeQueueText } from '../../../src/message/payload';
import { silentLogger } from '../../../src/core/log';
import { assertAsciiHeaders, assertLineLimits, decodedHeader, headerSection } from '../../support/hostileCorpus';

const mail = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
const MESSAGE_REASONS = new Set(['invalid_json', 'invalid_message', 'too_many_recipients', 'sender_not_allowed']);

/** A sender that composes real MIME without a network, keeping the raw bytes. */
function composingSender(): MessageSender & { raw: Buffer[] } {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const raw: Buffer[] = [];
  return {
    raw,
    async send(options) {
      const info = await transport.sendMail(options);
      raw.push(info.message as Buffer);
      return { messageId: info.messageId, response: '250 OK', accepted: [], rejected: [] };
    },
  };
}

function deps(sender: MessageSender) {
  const written: DeadLetterInput[] = [];
  const value: RelayDependencies = {
    config: { mail, queue: { maxDequeueCount: 5 } } as unknown as RelayDependencies['config'],
    sender,
    deadLetters: { write: async (input) => (written.push(input), { recordId: 'r', queueMessageId: 'q' }) },
  };
  return { value, written };
}

const anyPayload = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary' }),
  fc.json(),
  fc.uint8Array({ maxLength: 200 }),
  fc.dictionary(fc.constantFrom('to', 'cc', 'bcc', 'from', 'replyTo', 'subject', 'text', 'html', 'headers', 'attachments', 'id', 'x'), fc.jsonValue()),
);

test('property: any payload ends delivered or dead-lettered with a message reason; never a crash or a retry; the original is kept', async () => {
  await fc.assert(
    fc.asyncProperty(anyPayload, async (payload) => {
      const sender = composingSender();
      const { value, written } = deps(sender);
      const outcome = await relayQueueMessage(payload, { dequeueCount: 1, queueMessageId: 'q' }, value, silentLogger);
      if (outcome.status === 'dead-lettered') {
        assert.equal(written.length, 1);
        assert.ok(MESSAGE_REASONS.has(written[0]!.reason), `${written[0]!.reason}: ${written[0]!.description}`);
        assert.equal(written[0]!.kind, 'permanent');
        assert.equal(written[0]!.original, decodeQueueText(payload));
        assert.equal(sender.raw.length, 0);
      } else {
        assert.equal(outcome.status, 'delivered');
        assert.equal(sender.raw.length, 1);
        assertAsciiHeaders(sender.raw[0]!);
        assertLineLimits(sender.raw[0]!);
      }
    }),
    { numRuns: 400 },
  );
});

/** A run of printable ASCII without spaces, long enough that only encoding keeps its header line short. */
const unbroken = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 60, maxLength: 1500 });

/** Text as producers send it: any Unicode, with the occasional line break, NUL, tab, encoded-word look-alike or long unbroken run. */
const fieldText = fc.oneof(
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), unbroken).map((parts) => parts.join('')) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\r\n', '\n', '\r', '\u0000', '\t', '=?UTF-8?B?QmNj?=', '"', '<', ','), fc.string({ maxLength: 10 }))
      .map((parts) => parts.join('')),
  },
);

const normalise = (text: string) => text.replace(/\s+/g, ' ').trim();

test('property: subject, display names and header values are refused (CR/LF/NUL) or arrive decoded back equal in well-formed 7-bit headers', async () => {
  await fc.assert(
    fc.asyncProperty(fieldText, fieldText, fieldText, async (subject, name, headerValue) => {
      const sender = composingSender();
      const { value, written } = deps(sender);
      const message = { to: [{ name, address: 'to@example.net' }], subject, text: 'body', headers: { 'X-Custom': headerValue } };
      const outcome = await relayQueueMessage(message, { dequeueCount: 1 }, value, silentLogger);
      const hasBreak = (text: string) => /[\r\n\u0000]/.test(text);
      // An ASCII name is sent as atoms or a quoted string, which cannot be encoded: a run over 75 cannot fold.
      const unfoldableName =
        /^[ -~]*$/.test(name) &&
        !/=\?[^?\s]+\?[bq]\?[^?\s]*\?=/i.test(name) &&
        name
          .replace(/["\\]/g, '\\$&')
          .split(/[ \t]/)
          .some((word) => word.length > 75);
      const mayShowAnAddress = name.normalize('NFKC').includes('@');
      if (outcome.status === 'dead-lettered') {
        assert.equal(written[0]!.reason, 'invalid_message', written[0]!.description);
        assert.ok(
          hasBreak(subject) || hasBreak(name) || hasBreak(headerValue) || unfoldableName || mayShowAnAddress,
          `refused without cause: ${written[0]!.description}`,
        );
        return;
      }
      assert.equal(outcome.status, 'delivered');
      assert.ok(!hasBreak(subject) && !hasBreak(name) && !hasBreak(headerValue), 'a line break got through');
      const raw = sender.raw[0]!;
      assertAsciiHeaders(raw);
      assertLineLimits(raw);
      const parsed = await simpleParser(raw);
      assert.equal(normalise(parsed.subject ?? ''), normalise(subject));
      const to = Array.isArray(parsed.to) ? parsed.to[0]! : parsed.to!;
      assert.equal(to.value.length, 1, 'one recipient, however odd its name');
      assert.equal(to.value[0]!.address, 'to@example.net');
      assert.equal(normalise(to.value[0]!.name), normalise(name));
      assert.equal(normalise(decodedHeader(parsed, 'x-custom')), normalise(headerValue));
      const names = new Set(
        headerSection(raw)
          .split('\r\n')
          .filter((line) => !/^[ \t]/.test(line))
          .map((line) => line.slice(0, line.indexOf(':')).toLowerCase()),
      );
      for (const header of names) {
        assert.ok(
          ['from', 'to', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding', 'x-custom'].includes(header),
          `unexpected header ${header}`,
        );
      }
    }),
    { numRuns: 300 },
  );
});

test('property: a line break injected anywhere into a header-bound field never yields a delivered message', async () => {
  const field = fc.constantFrom('subject', 'name', 'header', 'address', 'filename', 'id');
  await fc.assert(
    fc.asyncProperty(
      field,
      fc.string({ maxLength: 20 }),
      fc.constantFrom('\r\n', '\n', '\r', '\u0000'),
      fc.string({ maxLength: 20 }),
      async (where, before, lineBreak, after) => {
        const injected = `${before}${lineBreak}Bcc: evil@example.org${after}`;
        const message: Record<string, unknown> = { to: [{ name: 'A', address: 'a@example.net' }], subject: 'S', text: 'x' };
        if (where === 'subject') message.subject = injected;
        if (where === 'name') message.to = [{ name: injected, address: 'a@example.net' }];
        if (where === 'header') message.headers = { 'X-Custom': injected };
        if (where === 'address') message.to = `a@example.net${injected}`;
        if (where === 'filename') message.attachments = [{ filename: injected, content: 'AAAA' }];
        if (where === 'id') message.id = injected;
        const sender = composingSender();
        const { value, written } = deps(sender);
        const outcome = await relayQueueMessage(message, { dequeueCount: 1 }, value, silentLogger);
        assert.equal(outcome.status, 'dead-lettered');
        assert.equal(written[0]!.reason, 'invalid_message');
        assert.equal(sender.raw.length, 0);
      },
    ),
    { numRuns: 300 },
  );
});
