/**
 * The one blob-name rule (src/message/blobName.ts): validation and AttachmentBlobs
 * agree on it, and every name it accepts is a URL the SDK builds inside the
 * attachment container, for path-style endpoints (Azurite: /<account>/<container>/…)
 * and Azure's (/<container>/…), with or without a SAS query. No request is made here:
 * the SDK builds the URLs offline.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnonymousCredential, BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { blobNameProblem, containedBlobClient, urlOutsideContainer } from '../../../src/message/blobName';
import { InvalidMessageError, parseQueueMessage } from '../../../src/message/validate';
import { RelayError } from '../../../src/core/errors';
import type { MailSettings } from '../../../src/settings';

const mail: MailSettings = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
const CONTAINER = 'outbound-mail-attachments';

const containers: Array<[string, ContainerClient]> = [
  ['Azurite (path-style)', BlobServiceClient.fromConnectionString('UseDevelopmentStorage=true').getContainerClient(CONTAINER)],
  ['Azure', new BlobServiceClient('https://relaystore.blob.core.windows.net', new AnonymousCredential()).getContainerClient(CONTAINER)],
  ['Azure with a SAS', new ContainerClient(`https://relaystore.blob.core.windows.net/${CONTAINER}?sv=2024-08-04&sr=c&sp=r&sig=abc%3D`)],
  ['a custom domain', new ContainerClient(`https://files.contoso.com/${CONTAINER}`)],
];

/** The problems validation reports for a message naming `blob`, as "path: problem". */
function blobProblems(blob: string): string[] {
  try {
    parseQueueMessage({ to: 'a@example.net', text: 'x', attachments: [{ filename: 'f.pdf', blob }] }, mail);
    return [];
  } catch (error) {
    assert.ok(error instanceof InvalidMessageError, String(error));
    assert.equal(error.reason, 'invalid_message');
    return error.problems.map((item) => `${item.path}: ${item.problem}`);
  }
}

/** Names that leave, or try to leave, the container, or are not plain names. */
const HOSTILE_NAMES = [
  '\u2028/../../outbound-mail-ledger/x',
  '\u2029/../../outbound-mail-ledger/x',
  'a/\u2028/../../../azure-webjobs-secrets/host.json',
  '../outbound-mail-ledger/x',
  'a/../../x',
  './x',
  'a/./b',
  'a/..',
  '..',
  '%2e%2e/outbound-mail-ledger/x',
  '%2E%2E/x',
  '..%2foutbound-mail-ledger%2fx',
  'a%5c..%5cx',
  '%252e%252e/x',
  '..\\outbound-mail-ledger\\x',
  'a\\b',
  '/outbound-mail-ledger/x',
  '//relaystore.blob.core.windows.net/x',
  'https://evil.example/x',
  'http:x',
  'file:///etc/passwd',
  'C:secret.txt',
  'x?comp=list',
  'x?restype=container&comp=list',
  'x#../../y',
  'a//b',
  'a/',
  'a.',
  'reports/2026./x',
  '...',
  'line\nbreak',
  'nul\u0000',
  'del\u007f',
  'nel\u0085',
  'lone\ud800surrogate',
  '\udc00',
  '',
  'x'.repeat(1025),
];

const PLAIN_NAMES = [
  'report.pdf',
  'orders/2026/11/invoice 42.pdf',
  'ä/ü/résumé.pdf',
  "O'Brien (final) + copy!.pdf",
  '100% done.pdf',
  'a%zz.bin',
  '.hidden',
  'a/.b/..c',
  '😀/x.png',
  'x'.repeat(1024),
];

describe('the blob-name rule', () => {
  it('refuses every hostile name in validation, at $.attachments[i].blob, as invalid_message', () => {
    for (const name of HOSTILE_NAMES) {
      const problems = blobProblems(name);
      assert.ok(
        problems.some((problem) => problem.startsWith('$.attachments[0].blob: must ')),
        `${JSON.stringify(name)}: ${problems.join('; ')}`,
      );
    }
  });

  it('accepts plain names, however unusual their characters', () => {
    for (const name of PLAIN_NAMES) assert.deepEqual(blobProblems(name), [], JSON.stringify(name));
  });

  it('names the exact problem', () => {
    assert.deepEqual(blobProblems('\u2028/../../outbound-mail-ledger/x'), [
      '$.attachments[0].blob: must not contain control characters, Unicode line or paragraph separators (U+2028, U+2029) or unpaired surrogates',
    ]);
    assert.deepEqual(blobProblems('a/../b'), ['$.attachments[0].blob: must not contain "." or ".." segments']);
    assert.deepEqual(blobProblems('%2e%2e/x'), ['$.attachments[0].blob: must be the name as stored, not percent-encoded (no %XX escapes)']);
    assert.deepEqual(blobProblems('https://evil.example/x'), [
      '$.attachments[0].blob: must be a name inside the attachment container, not a URL (it starts with "https:")',
    ]);
    const second = parseProblemsOf([
      { filename: 'a', content: 'aGk=' },
      { filename: 'b', blob: 'x?y' },
    ]);
    assert.deepEqual(second, ['$.attachments[1].blob: must not contain "?" or "#" (a blob name has no query string or fragment)']);
  });

  it('refuses hostile names in AttachmentBlobs too, before building any request, with the same reason', () => {
    for (const [style, container] of containers) {
      for (const name of HOSTILE_NAMES) {
        assert.throws(
          () => containedBlobClient(container, name),
          (error: unknown) => {
            assert.ok(error instanceof RelayError, `${style} ${JSON.stringify(name)}: ${String(error)}`);
            assert.equal(error.reason, 'invalid_message');
            assert.equal(error.kind, 'permanent');
            return true;
          },
        );
      }
    }
  });

  it('catches a URL the SDK resolved outside the container, whatever the name check said', () => {
    const [, container] = containers[0]!;
    // What the SDK builds for a traversal, checked without the name rule in front of it.
    const escaped = container.getBlobClient('\u2028/../../outbound-mail-ledger/x');
    assert.match(urlOutsideContainer(container, escaped, '\u2028/../../outbound-mail-ledger/x')!, /outside the container path/);
    const dotted = container.getBlobClient('a/./b');
    assert.match(urlOutsideContainer(container, dotted, 'a/./b')!, /not to the blob it names/);
    const other = container.getBlobClient('x');
    assert.match(urlOutsideContainer(container, other, 'y')!, /not to the blob it names/);
  });
});

function parseProblemsOf(attachments: unknown[]): string[] {
  try {
    parseQueueMessage({ to: 'a@example.net', text: 'x', attachments }, mail);
    return [];
  } catch (error) {
    return (error as InvalidMessageError).problems.map((item) => `${item.path}: ${item.problem}`);
  }
}

/** Names built from the pieces that matter for paths and URLs, and any Unicode at all. */
const PIECES = [
  '.',
  '..',
  '/',
  '//',
  '\\',
  '%2e',
  '%2E',
  '%2f',
  '%5C',
  '%25',
  '%',
  '?',
  '#',
  ':',
  'https:',
  'a',
  'Z',
  '0',
  ' ',
  'ü',
  '😀',
  '\u2028',
  '\u2029',
  '\u0085',
  '\n',
  '\u0000',
  '\ud800',
  '\udfff',
  '~',
  "'",
  '+',
  '&',
  '=',
];
const nameArbitrary = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 12 }).map((pieces) => pieces.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
);

describe('property: the rule and the URL agree', () => {
  it('every accepted name is exactly that blob inside the container, for every endpoint style; AttachmentBlobs refuses the rest', () => {
    fc.assert(
      fc.property(nameArbitrary, (name) => {
        const problem = blobNameProblem(name);
        for (const [style, container] of containers) {
          if (problem === undefined) {
            const blob = containedBlobClient(container, name);
            const base = new URL(container.url);
            const url = new URL(blob.url);
            assert.equal(url.origin, base.origin, style);
            assert.equal(url.search, base.search, style);
            assert.ok(url.pathname.startsWith(`${base.pathname}/`), `${style}: ${url.pathname}`);
            assert.equal(decodeURIComponent(url.pathname.slice(base.pathname.length + 1)), name, style);
            assert.equal(blob.containerName, CONTAINER, style);
            assert.equal(blob.name, name, style);
          } else {
            assert.throws(() => containedBlobClient(container, name), RelayError, style);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('validation refuses exactly the names the rule refuses', () => {
    fc.assert(
      fc.property(nameArbitrary, (name) => {
        const refused = blobProblems(name).some((item) => item.startsWith('$.attachments[0].blob'));
        assert.equal(refused, blobNameProblem(name) !== undefined, JSON.stringify(name));
      }),
      { numRuns: 1000 },
    );
  });
});
