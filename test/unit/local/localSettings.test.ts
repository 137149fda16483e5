/** The local run's settings at each start: the stack's endpoints win, the user's edits stay, the environment overrides this run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeOverrides, mergeLocalSettings } from '../../../local/localSettings';

const stack = {
  AzureWebJobsStorage: 'UseThisStack;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1',
  SMTP_HOST: '127.0.0.1',
  SMTP_PORT: '2587',
  OAUTH2_CLIENT_SECRET: 'local~kept',
  MAIL_FROM: 'relay@example.com',
  RELAY_QUEUE_NAME: 'outbound-mail',
};

test("an edited settings file keeps the user's values; the stack's endpoints of this start replace stale ones", () => {
  const previous = { ...stack, SMTP_PORT: '9999', MAIL_ALLOWED_FROM: 'billing@example.com', MAIL_FROM: 'billing@example.com' };
  const merged = mergeLocalSettings(stack, previous, {});
  assert.equal(merged.file.SMTP_PORT, '2587');
  assert.equal(merged.file.MAIL_ALLOWED_FROM, 'billing@example.com');
  assert.equal(merged.file.MAIL_FROM, 'billing@example.com');
  assert.deepEqual(merged.effective, merged.file);
  assert.deepEqual(merged.overrides, [
    { name: 'MAIL_FROM', from: 'file' },
    { name: 'MAIL_ALLOWED_FROM', from: 'file' },
  ]);
  assert.deepEqual(merged.ignored, []);
});

test('relay settings in the environment apply to this run only; the stack-owned ones and unrelated variables are left out', () => {
  const env = { MAIL_ALLOWED_FROM: 'ops@example.com', SMTP_HOST: 'smtp.office365.com', HOME: '/root', PATH: '/usr/bin' };
  const merged = mergeLocalSettings(stack, { ...stack, MAIL_ALLOWED_FROM: 'billing@example.com' }, env);
  assert.equal(merged.effective.MAIL_ALLOWED_FROM, 'ops@example.com');
  assert.equal(merged.file.MAIL_ALLOWED_FROM, 'billing@example.com', 'not written down');
  assert.equal(merged.effective.SMTP_HOST, '127.0.0.1');
  assert.equal(merged.effective.HOME, undefined);
  assert.deepEqual(merged.overrides, [{ name: 'MAIL_ALLOWED_FROM', from: 'environment' }]);
  assert.deepEqual(merged.ignored, ['SMTP_HOST']);
  const lines = describeOverrides(merged, '.local/settings.json').join('\n');
  assert.match(lines, /overrides +MAIL_ALLOWED_FROM \(the environment\)/);
  assert.match(lines, /ignored +SMTP_HOST \(the environment\): the local stack's own values win/);
  assert.doesNotMatch(lines, /ops@example\.com/, 'names only, never values');
});

test('a first start (no file, no environment) is the stack as it is, with nothing to report', () => {
  const merged = mergeLocalSettings(stack, undefined, {});
  assert.deepEqual(merged.file, stack);
  assert.deepEqual(describeOverrides(merged, 'x'), []);
});
