/**
 * The doctor's secret check with the secret in Key Vault (KeyVaultDouble, the
 * REST contract): where the secret comes from and when it expires, a warning
 * ahead of the expiry, and a clear stop when it has expired or cannot be read.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport } from '../../../src/cli/doctor';
import { runDoctor } from '../../../src/app/cli';
import { stepLabel } from '../../../src/core/setupSteps';
import { SECRET_NAME, startRelayVaultStack, type RelayVaultStack } from '../../support/relayVaultStack';

let kv: RelayVaultStack;
const DAY = 86_400_000;

before(async () => {
  kv = await startRelayVaultStack();
});

after(async () => {
  await kv?.close();
});

function doctor() {
  return runDoctor({ env: kv.settings(), identity: { vaultCredential: kv.credential } });
}

test('a Key Vault secret far from its expiry: ok, naming the vault and the date', async () => {
  const expiresOn = new Date(Date.now() + 180 * DAY);
  kv.vault.setSecret(SECRET_NAME, { value: kv.stack.clientSecret, expiresOn });
  const report = await doctor();
  assert.equal(report.ok, true, formatReport(report));
  const secret = report.checks.find((check) => check.id === 'secret')!;
  assert.equal(secret.status, 'ok');
  assert.match(secret.detail!, new RegExp(`${SECRET_NAME}.*expires ${expiresOn.toISOString().slice(0, 10)}`));
  assert.ok(!formatReport(report).includes(kv.stack.clientSecret));
});

test('a Key Vault secret that expires within 30 days: a warning with the remedy, and the other checks still run', async () => {
  kv.vault.setSecret(SECRET_NAME, { value: kv.stack.clientSecret, expiresOn: new Date(Date.now() + 10 * DAY) });
  const report = await doctor();
  assert.equal(report.ok, true);
  const secret = report.checks.find((check) => check.id === 'secret')!;
  assert.equal(secret.status, 'warning');
  assert.equal(secret.finding?.diagnosis, 'secret_expiring');
  assert.match(secret.finding.observed!, /in (9|10) days/);
  assert.ok(report.checks.filter((check) => check.id !== 'secret').every((check) => check.status === 'ok'));
  assert.match(formatReport(report), /\[warn\] Client secret/);
});

test('a Key Vault secret past its expiry date: the doctor stops at the secret and says to create a new one', async () => {
  kv.vault.setSecret(SECRET_NAME, { value: kv.stack.clientSecret, expiresOn: new Date(Date.now() - DAY) });
  const report = await doctor();
  assert.equal(report.ok, false);
  assert.equal(report.firstFailure?.id, 'secret');
  assert.equal(report.firstFailure?.finding?.diagnosis, 'expired_client_secret');
  assert.ok(report.firstFailure.finding.steps.includes(stepLabel('clientSecret')));
});

test('a secret missing from the vault: the doctor stops at the secret and names the Key Vault step', async () => {
  const report = await runDoctor({ env: kv.settings({ OAUTH2_CLIENT_SECRET_NAME: 'no-such-secret' }), identity: { vaultCredential: kv.credential } });
  assert.equal(report.firstFailure?.id, 'secret');
  assert.ok(report.firstFailure.finding!.steps.includes(stepLabel('keyVault')), JSON.stringify(report.firstFailure));
  assert.match(formatReport(report), /no-such-secret/);
});
