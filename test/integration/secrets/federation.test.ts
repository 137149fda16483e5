/**
 * Secretless mode: the relay signs in for the app registration with a client
 * assertion from its managed identity (ManagedIdentityCredential, unchanged,
 * against the ManagedIdentityDouble), checked by the local token endpoint
 * against the app's federated credential. No secret exists anywhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, LOCAL_CLIENT_ID, type LocalStack } from '../../../local/stack';
import { JWT_BEARER_ASSERTION } from '../../../local/tokenServer';
import { loadConfig } from '../../../src/settings';
import { relayOf, type Relay } from '../../../src/app/relay';
import { createRelayComponents, type RelayComponents } from '../../../src/app/components';
import { RetryLaterError } from '../../../src/relay/handler';
import { ManagedIdentityDouble } from '../../doubles/managedIdentityDouble';
import { queueMessage, recordingLogger } from '../../support/relayVaultStack';

const IDENTITY_CLIENT = 'f00dbabe-0000-4000-8000-000000000001';
const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

let stack: LocalStack;
let identity: ManagedIdentityDouble;
const relays: Relay[] = [];
const savedEnv = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  // The identity is known to Entra (it has an object id); its tokens are minted by the same authority.
  stack.tokenServer.setClientSecret(IDENTITY_CLIENT, 'identity-has-no-usable-secret-000');
  identity = await ManagedIdentityDouble.start({
    clientId: IDENTITY_CLIENT,
    issue: (resource) => stack.tokenServer.issueToken({ aud: resource, appid: IDENTITY_CLIENT }),
  });
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
});

after(async () => {
  for (const relay of relays) await relay.close();
  await identity.close();
  await stack.close();
  for (const [key, value] of [
    ['IDENTITY_ENDPOINT', savedEnv.endpoint],
    ['IDENTITY_HEADER', savedEnv.header],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

let counter = 0;
function federatedRelay(): Relay & { parts: RelayComponents } {
  const { OAUTH2_CLIENT_SECRET: _none, ...settings } = stack.settings;
  const name = `fed-${++counter}`;
  const parts = createRelayComponents(
    loadConfig({
      ...settings,
      OAUTH2_AUTH_MODE: 'managed-identity-federation',
      MANAGED_IDENTITY_CLIENT_ID: IDENTITY_CLIENT,
      RELAY_QUEUE_NAME: name,
      RELAY_DEADLETTER_QUEUE_NAME: `${name}-dl`,
      RELAY_DEADLETTER_CONTAINER: `${name}-dl`,
    }),
    recordingLogger(),
  );
  const relay = Object.assign(relayOf(parts), { parts });
  relays.push(relay);
  return relay;
}

describe('managed-identity federation (no client secret)', () => {
  it('is refused with the remedy while the app registration does not trust the identity', async () => {
    const relay = federatedRelay();
    try {
      await relay.handleQueueMessage(queueMessage('not yet trusted'), { dequeueCount: 1 }, recordingLogger());
      assert.fail('expected a retry');
    } catch (error) {
      assert.ok(error instanceof RetryLaterError, String(error));
      assert.equal(error.failure.kind, 'configuration');
      assert.match(error.failure.providerReply ?? '', /AADSTS70021/);
      assert.match(error.failure.remedy ?? '', /Federated credentials/);
    }
  });

  it('delivers with a token obtained by a client assertion from the managed identity', async () => {
    stack.tokenServer.addFederatedCredential(LOCAL_CLIENT_ID, {
      issuer: stack.tokenServer.accessTokenIssuer,
      subject: stack.tokenServer.objectIdOf(IDENTITY_CLIENT)!,
      audience: EXCHANGE_AUDIENCE,
    });
    const relay = federatedRelay();
    const received = stack.smtpServer.received.length;
    const outcome = await relay.handleQueueMessage(queueMessage('secretless'), { dequeueCount: 1 }, recordingLogger());
    assert.equal(outcome.status, 'delivered');
    assert.equal(stack.smtpServer.received.length, received + 1);
    assert.equal(stack.tokenServer.lastTokenRequest?.client_assertion_type, JWT_BEARER_ASSERTION);
    assert.equal(stack.tokenServer.lastTokenRequest?.client_id, LOCAL_CLIENT_ID);
    assert.ok(identity.resources.includes(EXCHANGE_AUDIENCE), `the identity was asked for ${EXCHANGE_AUDIENCE}: ${identity.resources.join(', ')}`);
    assert.equal(relay.parts.secrets, undefined, 'no secret source at all');
  });
});
