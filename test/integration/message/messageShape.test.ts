/**
 * The precompiled queue-message validator (test/unit/message/messageShape.test.ts)
 * as the relay loads it, in a process of its own: ajv's compiler stays unloaded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_ROOT } from '../../support/paths';

describe('precompiled message validator', () => {
  it("does not load ajv's compiler when the relay starts", () => {
    const validate = join(BUILD_ROOT, 'src', 'message', 'validate.js');
    const script = `require(${JSON.stringify(validate)}); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((file) => /[\\\\/]ajv[\\\\/]dist[\\\\/](compile|core|ajv)/.test(file))))`;
    assert.deepEqual(JSON.parse(execFileSync(process.execPath, ['-e', script]).toString()), []);
  });
});
