/**
 * KeyVaultSecretProvider with the real SecretClient (401 challenge, token from
 * the local Entra-shaped endpoint) against the KeyVaultDouble.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../../src/core/log';
import { redact } from '../../../src/core/redact';
import { KeyVaultSecretProvider, createSecretClient } from '../../../src/secrets';
import { SECRET_NAME, startVaultStack, type VaultStack } from '../../support/vaultStack';
import { rejection } from '../../support/rejection';

const SECRET_V1 = 'kv~first.secret-value_ABCDEFGHIJ';
const SECRET_V2 = 'kv~second.secret-value_KLMNOPQRST';

let stack: VaultStack;

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, props?: Record<string, unknown>) => lines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

function provider(options: { cacheMs?: number; now?: () => number; logger?: Logger; secretName?: string } = {}): KeyVaultSecretProvider {
  return new KeyVaultSecretProvider({
    client: stack.secretClient(),
    secretName: options.secretName ?? SECRET_NAME,
    cacheMs: options.cacheMs ?? 3_600_000,
    now: options.now,
    logger: options.logger,
  });
}

before(async () => {
  stack = await startVaultStack('relay~unused-here_0000000000');
});

after(async () => {
  await stack.close();
});

describe('KeyVaultSecretProvider', () => {
  it('reads the secret through the 401 challenge with a token for https://vault.azure.net', async () => {
    const version = stack.vault.setSecret(SECRET_NAME, { value: SECRET_V1 });
    const challengesBefore = stack.vault.challenges;
    const secret = await provider().current();
    assert.equal(secret.value, SECRET_V1);
    assert.equal(secret.version, version);
    assert.ok(stack.vault.challenges > challengesBefore, 'the first request went without a token and was challenged');
    assert.equal(redact(`leak ${SECRET_V1}`), 'leak [redacted]', 'the value is registered with the redactor');
  });

  it('reads the vault once per cache lifetime, however many callers ask, and again after it', async () => {
    stack.vault.setSecret(SECRET_NAME, { value: SECRET_V1 });
    let now = 1_000_000;
    const secrets = provider({ cacheMs: 60_000, now: () => now });
    const readsBefore = stack.vault.secretReads;
    await Promise.all(Array.from({ length: 20 }, () => secrets.current()));
    for (let i = 0; i < 50; i++) await secrets.current();
    assert.equal(stack.vault.secretReads - readsBefore, 1);
    now += 59_999;
    await secrets.current();
    assert.equal(stack.vault.secretReads - readsBefore, 1, 'still within the lifetime');
    now += 1;
    await secrets.current();
    assert.equal(stack.vault.secretReads - readsBefore, 2, 'read again once the lifetime is over');
  });

  it('announces a new version once, with both version ids and never a value in the log', async () => {
    const first = stack.vault.setSecret(SECRET_NAME, { value: SECRET_V1 });
    const log = recorder();
    const secrets = provider({ logger: log });
    const changes: Array<[string | undefined, string | undefined]> = [];
    secrets.onChange((secret, previous) => changes.push([previous?.version, secret.version]));
    await secrets.current();
    await secrets.reload();
    assert.deepEqual(changes, [], 'the same version is no change');
    const expiresOn = new Date(Date.now() + 90 * 86_400_000);
    const second = stack.vault.setSecret(SECRET_NAME, { value: SECRET_V2, expiresOn });
    const latest = await secrets.reload();
    assert.equal(latest.value, SECRET_V2);
    assert.equal(latest.properties.version, second);
    assert.equal(latest.properties.enabled, true);
    assert.equal(Math.floor(latest.properties.expiresOn!.getTime() / 1000), Math.floor(expiresOn.getTime() / 1000));
    assert.deepEqual(changes, [[first, second]]);
    assert.equal((await secrets.current()).value, SECRET_V2, 'the cache holds the new version');
    const text = log.lines.join('\n');
    assert.match(text, /secret\.version_changed/);
    assert.ok(!text.includes(SECRET_V1) && !text.includes(SECRET_V2), 'no secret value in the log');
  });

  it('classifies a missing secret, a disabled version and a refused identity as configuration problems', async () => {
    const missing = await rejection(provider({ secretName: 'no-such-secret' }).current());
    assert.equal(missing.reason, 'secret_not_found');
    assert.equal(missing.kind, 'configuration');
    assert.match(missing.providerReply ?? '', /SecretNotFound/);
    assert.match(missing.remedy ?? '', /OAUTH2_CLIENT_SECRET_NAME/);

    stack.vault.setSecret('disabled-one', { value: SECRET_V1 });
    stack.vault.setEnabled('disabled-one', false);
    const disabled = await rejection(provider({ secretName: 'disabled-one' }).current());
    assert.equal(disabled.reason, 'secret_disabled');

    stack.vault.failNext(403, 'Forbidden', "The user, group or application does not have secrets get permission on key vault 'relay'.");
    const denied = await rejection(provider().current());
    assert.equal(denied.reason, 'secret_store_access_denied');
    assert.match(denied.remedy ?? '', /Key Vault Secrets User/);
  });

  it('treats a vault that fails or cannot be reached as transient, with a clear log line', async () => {
    stack.vault.setSecret(SECRET_NAME, { value: SECRET_V1 });
    stack.vault.failNext(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', 3);
    const log = recorder();
    const busy = await rejection(provider({ logger: log }).current());
    assert.equal(busy.reason, 'secret_store_unavailable');
    assert.equal(busy.kind, 'transient');
    assert.match(log.lines.join('\n'), /could not read the client secret from Key Vault.*secret_store_unavailable/);

    const unreachable = new KeyVaultSecretProvider({
      client: createSecretClient(stack.keyVaultSettings({ vaultUrl: 'https://127.0.0.1:1' }), stack.credential, { extraCa: stack.certs.caPem }),
      secretName: SECRET_NAME,
      cacheMs: 60_000,
    });
    const refused = await rejection(unreachable.current());
    assert.equal(refused.reason, 'secret_store_unavailable');
    assert.equal(refused.kind, 'transient');
    assert.match(refused.message, /could not be reached/);
  });

  it('keeps serving the cached secret while it is fresh even when the vault is down', async () => {
    stack.vault.setSecret(SECRET_NAME, { value: SECRET_V1 });
    const secrets = provider();
    await secrets.current();
    stack.vault.failNext(503, 'ServiceUnavailable', 'down', 3);
    assert.equal((await secrets.current()).value, SECRET_V1);
    await rejection(secrets.reload());
  });
});
