/**
 * The queue-message validator ships precompiled (scripts/compileSchema.ts, run
 * by `npm run build`). It must be exactly what the schema compiles to, and the
 * app must not load ajv's compiler at run time (test/integration/message/messageShape.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileMessageShape, schemaCompiler } from '../../../scripts/compileSchema';
import schema from '../../../src/message/message.schema.json';
import validateShape from '../../../src/message/messageShape';
import { BUILD_ROOT } from '../../support/paths';

const shipped = join(BUILD_ROOT, 'src', 'message', 'messageShape.js');

describe('precompiled message validator', () => {
  it('is what message.schema.json compiles to now (a build that skipped the step would ship a stale one)', () => {
    assert.equal(readFileSync(shipped, 'utf8'), compileMessageShape());
  });

  it('answers like the schema compiled at run time, errors included', () => {
    const atRunTime = schemaCompiler().compile(schema);
    const samples: unknown[] = [
      { to: 'ada@example.com', text: 'hi' },
      { to: ['ada@example.com', 'Bob <bob@example.com>'], subject: 'x', html: '<p>hi</p>', headers: { 'X-Tag': 'a' } },
      { to: 'not an address', text: 1, attachments: [{ filename: 'a', content: 'not base64!' }], extra: true },
      { to: [], from: 'a@b\r\nBcc: c@d', headers: { 'Bad Name': 'x', 'X-Ok': 'line\nbreak' } },
      { to: 'ada@example.com', attachments: [{ filename: 'a.pdf', blob: '../etc/passwd', contentType: 'nope' }] },
      [],
      'text',
      null,
    ];
    for (const sample of samples) {
      assert.equal(validateShape(sample), atRunTime(sample), JSON.stringify(sample));
      assert.deepEqual(validateShape.errors ?? null, atRunTime.errors ?? null, JSON.stringify(sample));
    }
  });
});
