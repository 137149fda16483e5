import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { classifyKeyVaultError, createVaultCredential, isAzureVaultHost } from '../../../src/secrets';

describe('Key Vault client setup', () => {
  it('uses only the managed identity where the platform provides one, the developer sign-in chain elsewhere', () => {
    const inAzure = { IDENTITY_ENDPOINT: 'http://localhost:42356/msi/token', IDENTITY_HEADER: 'abc' };
    assert.ok(createVaultCredential(undefined, inAzure) instanceof ManagedIdentityCredential);
    assert.ok(createVaultCredential('11111111-2222-4333-8444-555555555555', inAzure) instanceof ManagedIdentityCredential);
    assert.ok(createVaultCredential(undefined, {}) instanceof DefaultAzureCredential);
  });

  it('verifies the challenge resource for Azure vault hosts only', () => {
    assert.equal(isAzureVaultHost('https://relay-kv.vault.azure.net'), true);
    assert.equal(isAzureVaultHost('https://relay-kv.vault.usgovcloudapi.net'), true);
    assert.equal(isAzureVaultHost('https://127.0.0.1:8443'), false);
    assert.equal(isAzureVaultHost('https://vault.azure.net.attacker.example'), false);
  });
});

describe('classifyKeyVaultError for identity failures', () => {
  it('a missing identity is a configuration problem with the remedy', () => {
    const error = Object.assign(new Error('ManagedIdentityCredential: no managed identity endpoint found'), { name: 'CredentialUnavailableError' });
    const failure = classifyKeyVaultError(error, 'Key Vault secret "x"');
    assert.equal(failure.reason, 'managed_identity_unavailable');
    assert.equal(failure.kind, 'configuration');
    assert.match(failure.remedy ?? '', /MANAGED_IDENTITY_CLIENT_ID|az login/);
  });

  it('an identity endpoint that fails with 5xx is transient', () => {
    const error = Object.assign(new Error('service unavailable'), { name: 'AuthenticationError', statusCode: 503 });
    assert.equal(classifyKeyVaultError(error, 'vault').kind, 'transient');
  });

  it('429 from the vault keeps Retry-After', () => {
    const error = Object.assign(new Error('Too many requests'), {
      name: 'RestError',
      statusCode: 429,
      code: 'Throttled',
      response: { headers: { get: (name: string) => (name === 'retry-after' ? '12' : undefined) } },
    });
    const failure = classifyKeyVaultError(error, 'vault');
    assert.equal(failure.reason, 'secret_store_unavailable');
    assert.equal(failure.retryAfterSeconds, 12);
  });
});
