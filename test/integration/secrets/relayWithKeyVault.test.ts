/**
 * The relay as it runs in Azure with only KEYVAULT_URL, OAUTH2_CLIENT_SECRET_NAME
 * and an identity: real token endpoint and SMTP server, the KeyVaultDouble.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_CLIENT_ID } from '../../../local/stack';
import { RetryLaterError } from '../../../src/relay/handler';
import { queueMessage, recordingLogger, startRelayVaultStack, SECRET_NAME, type RelayVaultStack } from '../../support/relayVaultStack';

let env: RelayVaultStack;

before(async () => {
  env = await startRelayVaultStack();
});

after(async () => {
  await env.close();
});

async function retryReason(promise: Promise<unknown>): Promise<RetryLaterError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RetryLaterError, `expected RetryLaterError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the message to be handed back to the queue');
}

describe('relay with the client secret in Key Vault', () => {
  it('needs no secret in its settings and reads the vault once per cache lifetime across many messages', async () => {
    const settings = env.settings();
    assert.equal(settings.OAUTH2_CLIENT_SECRET, undefined);
    const relay = env.relay();
    const readsBefore = env.vault.secretReads;
    const receivedBefore = env.stack.smtpServer.received.length;
    const outcomes = [];
    for (let i = 0; i < 12; i++) outcomes.push(await relay.handleQueueMessage(queueMessage(`m${i}`), { dequeueCount: 1 }, recordingLogger()));
    assert.ok(outcomes.every((outcome) => outcome.status === 'delivered'));
    assert.equal(env.stack.smtpServer.received.length - receivedBefore, 12);
    assert.equal(env.vault.secretReads - readsBefore, 1, 'one Key Vault read for all messages');
  });

  it('picks up a rotated secret after an invalid-secret reply, with no restart', async () => {
    const logger = recordingLogger();
    const relay = env.relay({}, logger);
    // This instance has read the secret (as on its first message) and keeps it for an hour.
    await relay.parts.secrets!.current();
    const oldSecret = env.stack.clientSecret;
    const newSecret = `rotated~${Date.now()}.value_ABCDEFGH`;
    // Rotation done outside the relay: Entra gets the new secret (the old one stops working), Key Vault a new version.
    env.stack.tokenServer.setClientSecret(LOCAL_CLIENT_ID, newSecret);
    const newVersion = env.vault.setSecret(SECRET_NAME, { value: newSecret, expiresOn: new Date(Date.now() + 180 * 86_400_000) });
    try {
      const readsBefore = env.vault.secretReads;
      const tokenRequestsBefore = env.stack.tokenServer.tokenRequests;
      const outcome = await relay.handleQueueMessage(queueMessage('after rotation'), { dequeueCount: 1 }, logger);
      assert.equal(outcome.status, 'delivered');
      assert.equal(env.vault.secretReads - readsBefore, 1, 'the latest version was read once');
      assert.equal(env.stack.tokenServer.tokenRequests - tokenRequestsBefore, 2, 'refused once, then issued with the new secret');
      const text = logger.lines.join('\n');
      assert.match(text, new RegExp(`secret\\.retry_with_latest.*"version":"${newVersion}"`));
      assert.ok(!text.includes(newSecret) && !text.includes(oldSecret), 'no secret value in the log');
    } finally {
      env.stack.tokenServer.setClientSecret(LOCAL_CLIENT_ID, oldSecret);
      env.vault.setSecret(SECRET_NAME, { value: oldSecret, expiresOn: new Date(Date.now() + 180 * 86_400_000) });
    }
  });

  it('drops the cached access token when a new secret version is read, and gets the next one with it', async () => {
    const logger = recordingLogger();
    const relay = env.relay({}, logger);
    await relay.parts.tokens!.getToken();
    const fetches = relay.parts.tokens!.stats.fetches;
    env.vault.setSecret(SECRET_NAME, { value: env.stack.clientSecret, expiresOn: new Date(Date.now() + 180 * 86_400_000) });
    await relay.parts.secrets!.reload();
    assert.equal(relay.parts.tokens!.stats.invalidations, 1, 'the token made with the old version was dropped');
    await relay.parts.tokens!.getToken();
    assert.equal(relay.parts.tokens!.stats.fetches, fetches + 1);
  });

  it('a wrong secret with no newer version is reported as such, retried by the queue, not looped on', async () => {
    const relay = env.relay();
    const oldSecret = env.stack.clientSecret;
    env.vault.setSecret(SECRET_NAME, { value: 'the-secret-id-not-its-value-000', expiresOn: new Date(Date.now() + 86_400_000) });
    try {
      const readsBefore = env.vault.secretReads;
      const retry = await retryReason(relay.handleQueueMessage(queueMessage(), { dequeueCount: 1 }, recordingLogger()));
      assert.equal(retry.failure.reason, 'invalid_client_secret');
      assert.equal(env.vault.secretReads - readsBefore, 2, 'the first read, then one re-read of the latest version');
    } finally {
      env.vault.setSecret(SECRET_NAME, { value: oldSecret, expiresOn: new Date(Date.now() + 180 * 86_400_000) });
    }
  });

  it('treats Key Vault being unavailable as transient: the message is retried, and dead-lettered with the reason only on its last attempt', async () => {
    const logger = recordingLogger();
    const relay = env.relay({ RELAY_MAX_DEQUEUE_COUNT: '2' }, logger);
    env.vault.dropNext(1000);
    try {
      const retry = await retryReason(relay.handleQueueMessage(queueMessage('vault down'), { dequeueCount: 1 }, logger));
      assert.equal(retry.failure.reason, 'secret_store_unavailable');
      assert.equal(retry.failure.kind, 'transient');
      assert.match(retry.message, /Key Vault could not be reached/);
      assert.match(logger.lines.join('\n'), /warn could not read the client secret from Key Vault .*"event":"secret\.read_failed"/);
      const last = await relay.handleQueueMessage(queueMessage('vault down'), { dequeueCount: 2 }, logger);
      assert.equal(last.status, 'dead-lettered');
      assert.equal(last.status === 'dead-lettered' && last.reason, 'secret_store_unavailable');
    } finally {
      env.vault.dropNext(-1000);
    }
    assert.equal((await relay.handleQueueMessage(queueMessage('vault back'), { dequeueCount: 1 }, logger)).status, 'delivered');
  });
});
