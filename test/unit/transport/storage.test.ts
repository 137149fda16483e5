import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOnce } from '../../../src/transport/storage';

test('createOnce runs the creation once for concurrent callers, and again after a failure', async () => {
  let calls = 0;
  let fail = true;
  const ensure = createOnce(async () => {
    calls++;
    if (fail) throw new Error('storage down');
  });
  await assert.rejects(Promise.all([ensure(), ensure()]), /storage down/);
  assert.equal(calls, 1, 'one attempt shared by both callers');
  fail = false;
  await Promise.all([ensure(), ensure(), ensure()]);
  await ensure();
  assert.equal(calls, 2, 'retried once after the failure, then remembered');
});
