/** The local queue runner takes the Functions host's queue settings from host.json (the runner on Azurite: test/integration/worker/queueRunner.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readHostQueueSettings } from '../../../src/worker/queueRunner';
import { PACKAGE_ROOT } from '../../support/paths';

const root = PACKAGE_ROOT;

test('host.json is read with its time spans and encoding', () => {
  const settings = readHostQueueSettings(join(root, 'host.json'));
  assert.equal(settings.maxDequeueCount, 5);
  assert.equal(settings.visibilityTimeoutSeconds, 30);
  assert.equal(settings.maxPollingIntervalMs, 5000);
  assert.equal(settings.messageEncoding, 'none');
  assert.equal(settings.batchSize, 4);
  assert.equal(settings.newBatchThreshold, 2);
});
