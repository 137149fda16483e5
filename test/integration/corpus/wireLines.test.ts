/**
 * Property (fast-check) on the whole relay: long unbroken tokens in every header-bound
 * field (subject, a display name, an unstructured header, a verbatim header, a file
 * name with or without a path, a content id) are queued on Azurite, taken by the
 * host-like runner, relayed over STARTTLS + XOAUTH2 to the local SMTP server, and the
 * bytes it received are checked: no line over 998 octets (RFC 5322 §2.1.1), the encoded
 * fields folded to 78, every field decoded back to what was sent (the file name as its
 * base name) — or the message was dead-lettered naming exactly the fields that cannot be
 * sent. Few runs: each one is a real delivery.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { RelayHarness, HARNESS_HEADER, headerValue } from '../../support/relayHarness';
import { assertAsciiHeaders, assertLineLimits, decodedHeader, fieldLines, fileNameParameters } from '../../support/hostileCorpus';

let stack: LocalStack;
let harness: RelayHarness;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  harness = await new RelayHarness(stack, { name: 'wire-lines' }).start();
});
after(async () => {
  await harness?.close();
  await stack?.close();
});

const printable = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const ascii = (minLength: number, maxLength: number) => fc.string({ unit: printable, minLength, maxLength });
/** Unbroken, with non-ASCII somewhere (nodemailer encodes such text whole). */
const mixed = (maxLength: number) => fc.tuple(ascii(0, maxLength), fc.constantFrom('ü', 'ß', '日', '😀', 'Ω'), ascii(0, 40)).map((parts) => parts.join(''));
/** Unbroken text: short, or far too long for one header line. */
const unbroken = fc.oneof({ weight: 1, arbitrary: ascii(1, 75) }, { weight: 2, arbitrary: ascii(76, 2500) }, { weight: 2, arbitrary: mixed(2500) });
const contentIdToken = fc.string({ unit: fc.constantFrom(...'abcXYZ019!#$%&*+-/=?^_`{|}~.@[]'.split('')), minLength: 1, maxLength: 250 });

const sample = fc.record({
  subject: unbroken,
  // Mostly names that can be sent (short, or non-ASCII and so encoded); some that cannot.
  name: fc.oneof({ weight: 3, arbitrary: mixed(2500) }, { weight: 1, arbitrary: ascii(1, 60) }, { weight: 1, arbitrary: ascii(76, 2500) }),
  custom: unbroken,
  // Mostly msg-ids that fit a line; some too long or not ASCII.
  reference: fc.oneof({ weight: 4, arbitrary: ascii(1, 898) }, { weight: 1, arbitrary: ascii(899, 1200) }, { weight: 1, arbitrary: mixed(100) }),
  folder: fc.constantFrom('', '../../', 'C:\\Users\\ada\\', '/var/tmp/', '..\\'),
  file: fc.oneof(ascii(1, 230), mixed(200)),
  contentId: contentIdToken,
});
type Sample = typeof sample extends fc.Arbitrary<infer T> ? T : never;

const ASCII = /^[\x21-\x7e]*$/;
const LOOKS_ENCODED = /=\?[^?\s]+\?[bq]\?[^?\s]*\?=/i;

/** The paths that must be refused and those that may be, worked out from the RFCs, not from the relay's code. */
function expectedRefusals(input: Sample): { required: Set<string>; allowed: Set<string> } {
  const required = new Set<string>();
  const allowed = new Set<string>();
  // An ASCII display name is atoms or a quoted string (no encoded words): a run over 75 cannot fold.
  if (ASCII.test(input.name) && !LOOKS_ENCODED.test(input.name) && input.name.replace(/["\\]/g, '\\$&').length > 75) required.add('$.to[0].name');
  // A name that shows something like an address may be refused as showing another address.
  if (input.name.normalize('NFKC').includes('@')) allowed.add('$.to[0].name');
  // References is sent verbatim: ASCII only, and a run that fits a line.
  if (!ASCII.test(input.reference) || input.reference.length + 2 > 900) required.add('$.headers.References');
  const base = baseOf(`${input.folder}${input.file}`);
  if (base === '' || base === '.' || base === '..') required.add('$.attachments[0].filename');
  for (const path of required) allowed.add(path);
  return { required, allowed };
}

/** The base name a recipient should see: after the last / or \, without a drive letter. */
function baseOf(name: string): string {
  return name
    .split(/[/\\]/)
    .pop()!
    .replace(/^[A-Za-z]:/, '')
    .trim();
}

let counter = 0;
let delivered = 0;

test('property: long unbroken tokens in every header-bound field reach the SMTP server in lines of at most 998 octets, decoded back equal, or are refused by name', async () => {
  await fc.assert(
    fc.asyncProperty(sample, async (input) => {
      const key = `wire-${++counter}`;
      const filename = `${input.folder}${input.file}`;
      await harness.enqueue(key, {
        to: [{ name: input.name, address: 'to@example.net' }],
        subject: input.subject,
        html: `<img src="cid:${input.contentId}">`,
        headers: { 'X-Custom': input.custom, References: `<${input.reference}>` },
        attachments: [{ filename, contentType: 'image/png', content: 'iVBORw0KGgo=', contentId: input.contentId }],
      });
      await harness.drain(30_000);
      const result = await harness.reconcile();
      const { required, allowed } = expectedRefusals(input);
      const [record] = result.deadLetters.get(key) ?? [];
      const received = stack.smtpServer.received.filter((message) => headerValue(message.raw, HARNESS_HEADER) === key);

      if (record) {
        assert.equal(received.length, 0, 'refused and delivered');
        assert.equal(record.reason, 'invalid_message', record.description);
        const paths = new Set(
          record.description
            .replace(/^[^:]*: /, '')
            .split(/; (?=\$)/)
            .map((problem) => problem.slice(0, problem.indexOf(': '))),
        );
        for (const path of paths) assert.ok(allowed.has(path), `refused without cause: ${record.description}`);
        for (const path of required) assert.ok(paths.has(path), `${path} should have been refused: ${record.description}`);
        return;
      }
      assert.equal(required.size, 0, `delivered although ${[...required].join(', ')} cannot be sent`);
      delivered += 1;
      assert.equal(received.length, 1, result.summary);
      const raw = received[0]!.raw;
      assertLineLimits(raw);
      assertAsciiHeaders(raw);
      // The fields the relay encodes fold to RFC 5322's preferred 78.
      for (const field of ['Subject', 'To', 'X-Custom']) {
        for (const line of fieldLines(raw, field)) assert.ok(Buffer.byteLength(line) <= 78, `${field} line of ${line.length}`);
      }
      const parsed = await simpleParser(raw);
      assert.equal(parsed.subject, input.subject);
      const to = Array.isArray(parsed.to) ? parsed.to[0]! : parsed.to!;
      assert.deepEqual(
        to.value.map((entry) => [entry.name, entry.address]),
        [[input.name, 'to@example.net']],
      );
      assert.equal(decodedHeader(parsed, 'x-custom'), input.custom);
      assert.equal(headerValue(raw, 'References'), `<${input.reference}>`);
      const [attachment] = parsed.attachments;
      assert.equal(attachment!.filename, baseOf(filename));
      assert.equal(attachment!.cid, input.contentId);
      for (const value of fileNameParameters(raw)) assert.doesNotMatch(value, /[/\\]/, `a delivered name holds a path separator: ${value}`);
    }),
    { numRuns: 40 },
  );
  // About half the samples can be sent; a property that delivered nothing would have checked nothing.
  assert.ok(delivered >= 5, `only ${delivered} of 40 samples were delivered`);
});
