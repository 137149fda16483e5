/**
 * Remedies fit the mode the relay runs in (issue 10, point 2). The relay as it
 * runs in Azure (KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME, the KeyVaultDouble, the
 * local token endpoint and SMTP server): a refused secret says to store a new
 * version of that Key Vault secret, never to set OAUTH2_CLIENT_SECRET (which that
 * mode refuses at start), and a GUID read from Key Vault is named as the secret's
 * ID before anything is sent to the token endpoint.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QueueClient } from '@azure/storage-queue';
import { LOCAL_CLIENT_ID } from '../../../local/stack';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import { queueMessage, recordingLogger, startRelayVaultStack, SECRET_NAME, type RelayVaultStack } from '../../support/relayVaultStack';

let env: RelayVaultStack;

before(async () => {
  env = await startRelayVaultStack();
});

after(async () => {
  await env.close();
});

const YEAR = 365 * 86_400_000;

/** One message on the host's last allowed delivery (dead-lettered with its reason); its record and the log. */
async function deadLetterWith(): Promise<{ record: DeadLetterRecord; log: string }> {
  const logger = recordingLogger();
  const settings = env.settings({ RELAY_MAX_DEQUEUE_COUNT: '1' });
  const relay = env.relay(settings, logger);
  const outcome = await relay.handleQueueMessage(queueMessage('secret problem'), { dequeueCount: 1 }, logger);
  assert.equal(outcome.status, 'dead-lettered');
  const queue = new QueueClient(env.stack.settings.AzureWebJobsStorage, settings.RELAY_DEADLETTER_QUEUE_NAME!);
  const peeked = await queue.peekMessages({ numberOfMessages: 1 });
  return { record: JSON.parse(peeked.peekedMessageItems[0]!.messageText) as DeadLetterRecord, log: logger.lines.join('\n') };
}

function assertKeyVaultRemedy(record: DeadLetterRecord): void {
  const remedy = record.remedy ?? '';
  assert.match(remedy, new RegExp(`new version of Key Vault secret "${SECRET_NAME}" in ${env.vault.url.replace(/[.:/]/g, '\\$&')}`));
  assert.doesNotMatch(remedy, /OAUTH2_CLIENT_SECRET/, 'that mode refuses the setting at start');
}

describe('with the client secret in Key Vault', () => {
  it('an invalid secret: store its Value as a new version of the Key Vault secret, never "set OAUTH2_CLIENT_SECRET"', async () => {
    const good = env.stack.clientSecret;
    const wrong = 'Wq8Q~not-the-value-of-any-secret.0123456789';
    env.vault.setSecret(SECRET_NAME, { value: wrong, expiresOn: new Date(Date.now() + YEAR) });
    try {
      const { record, log } = await deadLetterWith();
      assert.equal(record.reason, 'invalid_client_secret');
      assert.match(record.providerReply ?? '', /AADSTS7000215/);
      assertKeyVaultRemedy(record);
      assert.ok(!log.includes(wrong) && !JSON.stringify(record).includes(wrong), 'the secret is never echoed');
    } finally {
      env.vault.setSecret(SECRET_NAME, { value: good, expiresOn: new Date(Date.now() + YEAR) });
    }
  });

  it('an expired secret: a new client secret, stored as a new version of the Key Vault secret', async () => {
    env.stack.tokenServer.expireSecret(LOCAL_CLIENT_ID);
    try {
      const { record } = await deadLetterWith();
      assert.equal(record.reason, 'expired_client_secret');
      assertKeyVaultRemedy(record);
    } finally {
      env.stack.tokenServer.setClientSecret(LOCAL_CLIENT_ID, env.stack.clientSecret);
    }
  });

  it("a GUID in Key Vault is named as the secret's ID, and never sent to the token endpoint", async () => {
    const good = env.stack.clientSecret;
    const secretId = '3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f';
    env.vault.setSecret(SECRET_NAME, { value: secretId, expiresOn: new Date(Date.now() + YEAR) });
    try {
      const tokenRequests = env.stack.tokenServer.tokenRequests;
      const { record, log } = await deadLetterWith();
      assert.equal(env.stack.tokenServer.tokenRequests, tokenRequests, 'nothing was sent to Entra');
      assert.equal(record.reason, 'client_secret_is_id');
      assert.match(record.description, /holds a GUID, the client secret's ID instead of its Value/);
      assertKeyVaultRemedy(record);
      assert.ok(!log.includes(secretId) && !JSON.stringify(record).includes(secretId), 'the value is never echoed');
    } finally {
      env.vault.setSecret(SECRET_NAME, { value: good, expiresOn: new Date(Date.now() + YEAR) });
    }
  });

  it('a GUID replaced by the Value in Key Vault: the new version is read and used, with no restart', async () => {
    const good = env.stack.clientSecret;
    const logger = recordingLogger();
    const relay = env.relay({}, logger);
    env.vault.setSecret(SECRET_NAME, { value: '3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f', expiresOn: new Date(Date.now() + YEAR) });
    await relay.parts.secrets!.current(); // this instance now holds the ID in its cache
    env.vault.setSecret(SECRET_NAME, { value: good, expiresOn: new Date(Date.now() + YEAR) });
    const outcome = await relay.handleQueueMessage(queueMessage('after the fix'), { dequeueCount: 1 }, logger);
    assert.equal(outcome.status, 'delivered');
  });
});
