/**
 * The local stack's folder: tests let it make a temporary one that goes with the
 * stack; the local run gives its own (.local), which must survive a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../../../local/stack';

test('without a folder the stack makes a temporary one and removes it when it closes', async () => {
  const stack = await startLocalStack({ inMemory: true });
  assert.ok(existsSync(join(stack.dir, 'certs')), 'certificates are written there');
  assert.equal(stack.maildir, join(stack.dir, 'mail'));
  await stack.close();
  assert.equal(existsSync(stack.dir), false);
});

test('a given folder is kept after close, with its certificates for the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-test-'));
  try {
    const stack = await startLocalStack({ dir, inMemory: true });
    assert.equal(stack.dir, dir);
    await stack.close();
    assert.ok(existsSync(join(dir, 'certs')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
