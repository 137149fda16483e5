/**
 * withIdentityEnvironment: the Azure SDK's sign-in variables of process.env
 * follow the settings while the doctor runs, and come back afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIdentityVariable, withIdentityEnvironment } from '../../../src/cli/identityEnvironment';

test('the managed identity and DefaultAzureCredential variables are identity variables; relay settings are not', () => {
  for (const name of [
    'IDENTITY_ENDPOINT',
    'IDENTITY_HEADER',
    'IDENTITY_SERVER_THUMBPRINT',
    'MSI_ENDPOINT',
    'MSI_SECRET',
    'IMDS_ENDPOINT',
    'AZURE_CLIENT_ID',
    'AZURE_TENANT_ID',
    'AZURE_FEDERATED_TOKEN_FILE',
    'AZURE_POD_IDENTITY_AUTHORITY_HOST',
    'MSAL_FORCE_REGION',
  ]) {
    assert.ok(isIdentityVariable(name), name);
  }
  for (const name of ['OAUTH2_CLIENT_SECRET', 'MANAGED_IDENTITY_CLIENT_ID', 'KEYVAULT_URL', 'AzureWebJobsStorage', 'PATH', 'NODE_OPTIONS']) {
    assert.ok(!isIdentityVariable(name), name);
  }
});

test('while it runs, process.env holds the settings’ identity variables (and none other); afterwards what it held before', async () => {
  const env: NodeJS.ProcessEnv = { PATH: '/bin', IDENTITY_ENDPOINT: 'http://shell/msi', AZURE_CLIENT_ID: 'from-the-shell', OAUTH2_CLIENT_ID: 'shell' };
  const before = { ...env };
  const settings = { IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi/token', IDENTITY_HEADER: 'h', OAUTH2_CLIENT_ID: 'file', OAUTH2_CLIENT_SECRET: 's' };
  const seen = await withIdentityEnvironment(settings, async () => ({ ...env }), env);
  assert.deepEqual(seen, { PATH: '/bin', IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi/token', IDENTITY_HEADER: 'h', OAUTH2_CLIENT_ID: 'shell' });
  assert.deepEqual(env, before);
});

test('the previous values come back when the run fails', async () => {
  const env: NodeJS.ProcessEnv = { MSI_ENDPOINT: 'before' };
  await assert.rejects(
    withIdentityEnvironment({ MSI_ENDPOINT: 'during' }, async () => Promise.reject(new Error('boom')), env),
    /boom/,
  );
  assert.deepEqual(env, { MSI_ENDPOINT: 'before' });
});
