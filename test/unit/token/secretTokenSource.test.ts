/** The retry-with-the-latest-secret rule, on the errors the token classifiers produce. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError } from '../../../src/core/errors';
import type { ClientSecret, ClientSecretProvider } from '../../../src/secrets';
import { classifyTokenFailure, SecretProviderTokenSource, isSecretRejection } from '../../../src/token';

/** A secret store whose latest version the test sets. */
class VersionedSecrets implements ClientSecretProvider {
  readonly store = 'key-vault';
  readonly description = 'test store';
  reloads = 0;
  constructor(
    public cached: ClientSecret,
    public latest: ClientSecret,
  ) {}
  async current() {
    return this.cached;
  }
  async reload() {
    this.reloads++;
    this.cached = this.latest;
    return this.latest;
  }
  onChange() {}
}

function rejectionFor(error: string, description: string, codes: number[], status = 401): RelayError {
  return classifyTokenFailure({ status, error, errorDescription: description, errorCodes: codes });
}

/** Accepts only `valid`; anything else gets `refusal`. */
function endpoint(valid: string, refusal: RelayError) {
  const used: string[] = [];
  return {
    used,
    sourceFor: (secret: string) => ({
      async fetchToken() {
        used.push(secret);
        if (secret !== valid) throw refusal;
        return { token: `token-for-${secret}`, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    }),
  };
}

describe('SecretProviderTokenSource', () => {
  const cases = [
    { name: 'AADSTS7000215 (wrong secret)', refusal: rejectionFor('invalid_client', 'AADSTS7000215: Invalid client secret provided.', [7000215]) },
    {
      name: 'AADSTS7000222 (expired secret)',
      refusal: rejectionFor('invalid_client', 'AADSTS7000222: The provided client secret keys are expired.', [7000222]),
    },
    { name: 'plain invalid_client (other providers)', refusal: rejectionFor('invalid_client', 'Client authentication failed.', []) },
  ];
  for (const { name, refusal } of cases) {
    it(`${name}: re-reads the latest version once and retries with it`, async () => {
      const secrets = new VersionedSecrets({ value: 'old', version: '1' }, { value: 'new', version: '2' });
      const wire = endpoint('new', refusal);
      const source = new SecretProviderTokenSource(secrets, wire.sourceFor);
      assert.equal((await source.fetchToken()).token, 'token-for-new');
      assert.deepEqual(wire.used, ['old', 'new']);
      assert.equal(secrets.reloads, 1);
      assert.ok(isSecretRejection(refusal));
    });
  }

  it('gives up after one re-read when the vault has nothing newer', async () => {
    const refusal = cases[0]!.refusal;
    const secrets = new VersionedSecrets({ value: 'old', version: '1' }, { value: 'old', version: '1' });
    const wire = endpoint('never', refusal);
    await assert.rejects(new SecretProviderTokenSource(secrets, wire.sourceFor).fetchToken(), (error) => error === refusal);
    assert.deepEqual(wire.used, ['old']);
    assert.equal(secrets.reloads, 1);
  });

  it('does not touch the vault for failures a new secret cannot fix', async () => {
    for (const failure of [
      rejectionFor('unauthorized_client', 'AADSTS700016: Application not found.', [700016], 400),
      classifyTokenFailure({ status: 503 }),
      rejectionFor('invalid_scope', 'AADSTS1002012: scope', [1002012], 400),
    ]) {
      const secrets = new VersionedSecrets({ value: 'old' }, { value: 'new' });
      await assert.rejects(new SecretProviderTokenSource(secrets, endpoint('new', failure).sourceFor).fetchToken());
      assert.equal(secrets.reloads, 0, failure.reason);
      assert.equal(isSecretRejection(failure), false);
    }
  });
});
