/**
 * The registered timer handler, called as the host calls it, on the process's
 * shared relay built from the app settings (here: the local stack's).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvocationContext, type Timer } from '@azure/functions';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { secretMonitor } from '../../../functions/secretMonitor';
import { getRelay } from '../../../src/app/runtime';

let stack: LocalStack;
const saved = new Map<string, string | undefined>();

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  for (const [key, value] of Object.entries({ ...stack.settings, MONITOR_STATE_CONTAINER: 'timer-test-monitor' })) {
    saved.set(key, process.env[key]);
    process.env[key] = value;
  }
});

after(async () => {
  // Servers first, whatever else fails: a stack left open would keep the test process alive.
  try {
    await getRelay().close();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await stack?.close();
  }
});

test('the secretMonitor handler pre-warms the shared relay: a token is fetched and an SMTP login is made', async () => {
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: 'timer-1',
    functionName: 'secretMonitor',
    logHandler: (level, ...args) => lines.push(`${level} ${args.join(' ')}`),
  });
  const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
  const tokens = stack.tokenServer.tokenRequests;
  const connections = stack.smtpServer.connectionsOpened;
  await secretMonitor(timer, context);
  assert.equal(stack.tokenServer.tokenRequests - tokens, 1);
  assert.equal(stack.smtpServer.connectionsOpened - connections, 1);
  assert.deepEqual(
    lines.filter((line) => /ALERT/.test(line)),
    [],
    'a healthy setup raises nothing',
  );

  // Break the secret in Entra: the next tick raises the alert through the invocation's log.
  stack.tokenServer.setClientSecret('5e4d0000-0000-4000-8000-0000000000a1', 'rotated-elsewhere-0000000000');
  await secretMonitor(timer, context);
  assert.ok(
    lines.some((line) => /^error ALERT token_acquisition_failed/.test(line)),
    lines.join('\n'),
  );
  assert.ok(!lines.join('\n').includes(stack.clientSecret), 'no secret in the log');
});
