/** The delivery settings: backoff, maximum age, ledger container and lease, with their defaults and checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, describeSettings, loadConfig, type Environment } from '../../../src/settings';

const MINIMAL: Environment = {
  OAUTH2_TENANT_ID: '7a1c0de0-0000-4000-8000-00000000cafe',
  OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
  OAUTH2_CLIENT_SECRET: 'Qx8~sEcReT.value-NOT_a_guid_1234567890',
  SMTP_USER: 'relay@contoso.com',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

function problems(env: Environment): string[] {
  try {
    loadConfig({ ...MINIMAL, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((item) => `${item.setting}: ${item.problem}`);
    throw error;
  }
  return [];
}

test('defaults: 30 s doubling to 15 min, dead-lettered after 24 h, ledger in its own container with a 1 min lease (renewed while sending)', () => {
  const { queue } = loadConfig(MINIMAL);
  assert.deepEqual(queue.retry, { firstDelaySeconds: 30, maxDelaySeconds: 900, maxAgeSeconds: 86400 });
  assert.equal(queue.ledgerContainerName, 'outbound-mail-ledger');
  assert.equal(queue.ledgerLeaseSeconds, 60);
  const described = Object.fromEntries(describeSettings().map((setting) => [setting.name, setting.default]));
  assert.equal(described.RELAY_RETRY_FIRST_DELAY_SECONDS, '30');
  assert.equal(described.RELAY_RETRY_MAX_DELAY_SECONDS, '900');
  assert.equal(described.RELAY_RETRY_MAX_AGE_SECONDS, '86400');
  assert.equal(described.RELAY_LEDGER_CONTAINER, 'outbound-mail-ledger');
  assert.equal(described.RELAY_LEDGER_LEASE_SECONDS, '60');
});

test('values are read and applied', () => {
  const { queue } = loadConfig({
    ...MINIMAL,
    RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_AGE_SECONDS: '432000',
    RELAY_LEDGER_CONTAINER: 'mail-ledger',
    RELAY_LEDGER_LEASE_SECONDS: '900',
  });
  assert.deepEqual(queue.retry, { firstDelaySeconds: 0, maxDelaySeconds: 0, maxAgeSeconds: 432000 });
  assert.equal(queue.ledgerContainerName, 'mail-ledger');
  assert.equal(queue.ledgerLeaseSeconds, 900);
});

test('every bad delivery setting is reported at once', () => {
  const found = problems({
    RELAY_RETRY_FIRST_DELAY_SECONDS: 'soon',
    RELAY_RETRY_MAX_AGE_SECONDS: '999999999',
    RELAY_LEDGER_CONTAINER: 'Ledger_Container',
    RELAY_LEDGER_LEASE_SECONDS: '0',
  });
  assert.ok(
    found.some((line) => line.startsWith('RELAY_RETRY_FIRST_DELAY_SECONDS:') && line.includes('not a whole number')),
    found.join('\n'),
  );
  assert.ok(
    found.some((line) => line.startsWith('RELAY_RETRY_MAX_AGE_SECONDS:') && line.includes('out of range')),
    found.join('\n'),
  );
  assert.ok(
    found.some((line) => line.startsWith('RELAY_LEDGER_CONTAINER:') && line.includes('container name')),
    found.join('\n'),
  );
  assert.ok(
    found.some((line) => line.startsWith('RELAY_LEDGER_LEASE_SECONDS:') && line.includes('out of range')),
    found.join('\n'),
  );
});

test('a first delay above the cap, and a ledger sharing the dead-letter container, are refused', () => {
  assert.ok(
    problems({ RELAY_RETRY_FIRST_DELAY_SECONDS: '600', RELAY_RETRY_MAX_DELAY_SECONDS: '60' }).some(
      (line) => line.startsWith('RELAY_RETRY_MAX_DELAY_SECONDS:') && line.includes('below'),
    ),
  );
  assert.ok(
    problems({ RELAY_LEDGER_CONTAINER: 'outbound-mail-deadletter' }).some((line) => line.startsWith('RELAY_LEDGER_CONTAINER:') && line.includes('apart')),
  );
});

test('the attachment container, which producers read from, shares no container with the relay or the host', () => {
  const attachmentProblems = (env: Environment) => problems(env).filter((line) => line.startsWith('RELAY_ATTACHMENT_CONTAINER:'));
  for (const env of [
    { RELAY_ATTACHMENT_CONTAINER: 'outbound-mail-ledger' },
    { RELAY_ATTACHMENT_CONTAINER: 'shared', RELAY_LEDGER_CONTAINER: 'shared' },
    { RELAY_ATTACHMENT_CONTAINER: 'outbound-mail-deadletter' },
    { RELAY_ATTACHMENT_CONTAINER: 'relay-monitor' },
    { RELAY_ATTACHMENT_CONTAINER: 'azure-webjobs-hosts' },
    { RELAY_ATTACHMENT_CONTAINER: 'azure-webjobs-secrets' },
    { RELAY_ATTACHMENT_CONTAINER: 'app-package-relay-abc1234' },
  ]) {
    const found = attachmentProblems(env);
    assert.equal(found.length, 1, `${JSON.stringify(env)}: ${found.join('\n')}`);
    assert.match(found[0]!, /producers can read every blob/);
  }
  assert.deepEqual(attachmentProblems({ RELAY_ATTACHMENT_CONTAINER: 'mail-attachments' }), []);
});
