import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import schema from '../../../src/message/message.schema.json';
import { REFUSED_HEADERS, refusedHeader, refusedHeaderSummary } from '../../../src/message/headers';

describe('the refused-header list', () => {
  it('is the one the schema documents: its description carries the list from headers.ts', () => {
    assert.ok(
      schema.properties.headers.description.includes(refusedHeaderSummary()),
      'the list in headers.ts changed: copy refusedHeaderSummary() into properties.headers.description of message.schema.json',
    );
    const listed = /Refused names \([^)]*\): ([^.]*)\./.exec(schema.properties.headers.description)![1]!.split(', ');
    assert.deepEqual(
      listed,
      REFUSED_HEADERS.map((rule) => rule.name),
    );
  });

  it('gives every entry a source and a problem text, and names each once', () => {
    const names = REFUSED_HEADERS.map((rule) => rule.name.toLowerCase());
    assert.equal(new Set(names).size, names.length);
    for (const rule of REFUSED_HEADERS) {
      assert.ok(rule.source.length > 0 && rule.problem.length > 0, rule.name);
      assert.match(rule.name, /^[A-Za-z0-9-]+\*?$/, rule.name);
    }
  });

  it('matches exact names and families case-insensitively, and nothing else', () => {
    assert.equal(refusedHeader('received')?.name, 'Received');
    assert.equal(refusedHeader('RESENT-MESSAGE-ID')?.name, 'Resent-*');
    assert.equal(refusedHeader('x-microsoft-antispam')?.name, 'X-Microsoft-Antispam*');
    assert.equal(refusedHeader('X-Microsoft-Antispam-Message-Info')?.name, 'X-Microsoft-Antispam*');
    assert.equal(refusedHeader('Content-Language')?.name, 'Content-*');
    for (const name of ['Received-By-Me', 'X-Received', 'Resent', 'X-MS-Reactions', 'X-MSMail-Priority', 'List-Unsubscribe', 'Auto-Submitted', 'X-Spamless']) {
      assert.equal(refusedHeader(name), undefined, name);
    }
  });
});
