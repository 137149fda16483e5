/**
 * Automatic rotation on the real stack: Graph through the GraphDouble (documented
 * shapes), the new secret proven at the local token endpoint, stored in the
 * KeyVaultDouble, the lease and the state in Azurite.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_CLIENT_ID } from '../../../local/stack';
import { SMTP_SEND_AS_APP } from '../../../local/tokenServer';
import { monitorOf } from '../../../src/app/monitor';
import { GraphDouble, OWNED_BY_PERMISSION } from '../../doubles/graphDouble';
import { postForm } from '../../support/localHelpers';
import {
  queueMessage,
  recordingLogger,
  startRelayVaultStack,
  SECRET_NAME,
  type RelayVaultStack,
  type VaultRelay as Relay,
} from '../../support/relayVaultStack';

const DAY = 86_400_000;
const HOUR = 3_600_000;

let env: RelayVaultStack;
let graph: GraphDouble;

before(async () => {
  env = await startRelayVaultStack();
  env.stack.tokenServer.setClientRoles(LOCAL_CLIENT_ID, [SMTP_SEND_AS_APP, OWNED_BY_PERMISSION]);
});

after(async () => {
  await env.close();
});

afterEach(async () => {
  await graph.close();
  // Back to one valid secret, the original, in Entra and Key Vault.
  env.stack.tokenServer.setClientSecret(LOCAL_CLIENT_ID, env.stack.clientSecret);
  env.vault.setSecret(SECRET_NAME, { value: env.stack.clientSecret, expiresOn: new Date(Date.now() + 180 * DAY) });
});

/** A Graph whose app registration holds the original secret, expiring in `days`; the vault version says the same. */
async function expiringIn(days: number): Promise<{ oldKeyId: string; oldVersion: string }> {
  const expiresOn = new Date(Date.now() + days * DAY);
  graph = await GraphDouble.start({
    tls: env.stack.certs,
    appId: LOCAL_CLIENT_ID,
    owners: [LOCAL_CLIENT_ID],
    verifyToken: async (token, audience) => {
      const result = await env.stack.tokenServer.verifyTokenForResource(token, audience);
      return result.ok ? result.claims : undefined;
    },
    onAddPassword: (secret) => env.stack.tokenServer.addClientSecret(LOCAL_CLIENT_ID, secret),
    onRemovePassword: (secret) => env.stack.tokenServer.removeClientSecret(LOCAL_CLIENT_ID, secret),
  });
  const oldKeyId = graph.seedPassword(env.stack.clientSecret, expiresOn);
  const oldVersion = env.vault.setSecret(SECRET_NAME, { value: env.stack.clientSecret, expiresOn });
  return { oldKeyId, oldVersion };
}

function rotatingRelay(extra: Record<string, string> = {}): Relay {
  return env.relay({ ROTATION_ENABLED: 'true', GRAPH_URL: graph.url, ROTATION_GRACE_HOURS: '2', ...extra });
}

function monitor(relay: Relay, now?: () => number) {
  // It writes new Key Vault versions with the relay's vault client, signed in as env.credential.
  return monitorOf(relay.parts, { proofDelaysMs: [], now });
}

async function tokenWith(secret: string): Promise<number> {
  const reply = await postForm(
    env.stack.tokenServer.tokenUrl(),
    { grant_type: 'client_credentials', client_id: LOCAL_CLIENT_ID, client_secret: secret, scope: 'https://outlook.office365.com/.default' },
    env.stack.certs.caPem,
  );
  return reply.status;
}

describe('automatic rotation', () => {
  it('adds, proves and stores a new secret, keeps the old one through the grace period, then removes it', async () => {
    const { oldKeyId, oldVersion } = await expiringIn(10);
    const relay = rotatingRelay();
    const log = recordingLogger();
    const report = await monitor(relay).run(log);

    assert.equal(graph.addCalls, 1);
    const versions = env.vault.versions(SECRET_NAME);
    const newest = versions.at(-1)!;
    assert.notEqual(newest.version, oldVersion);
    assert.notEqual(newest.value, env.stack.clientSecret);
    assert.ok(newest.tags?.graphKeyId && graph.keyIds().includes(newest.tags.graphKeyId), 'the Graph keyId is kept with the version');
    assert.ok(newest.exp && newest.exp * 1000 > Date.now() + 170 * DAY, 'stored with the new expiry');
    assert.equal(report.secretVersion, newest.version);
    assert.deepEqual(report.raised, [], 'no expiry alert for the version just replaced');
    assert.equal(await tokenWith(newest.value), 200, 'the new secret works');
    assert.equal(await tokenWith(env.stack.clientSecret), 200, 'the old one still works during the grace period');
    assert.match(log.lines.join('\n'), /"event":"monitor\.secret_rotated_by_relay"/);
    assert.ok(!log.lines.join('\n').includes(newest.value), 'the new secret is never logged');

    // The relay itself now sends with the new version, without a restart.
    assert.equal((await relay.handleQueueMessage(queueMessage('after rotation'), { dequeueCount: 1 }, recordingLogger())).status, 'delivered');
    assert.equal((await relay.parts.secrets!.current()).version, newest.version);

    // Before the grace period is over: nothing removed. After it: the old secret goes.
    await monitor(relay, () => Date.now() + 1 * HOUR).run(recordingLogger());
    assert.equal(graph.removeCalls, 0);
    await monitor(relay, () => Date.now() + 3 * HOUR).run(recordingLogger());
    assert.equal(graph.removeCalls, 1);
    assert.ok(!graph.keyIds().includes(oldKeyId), 'the old client secret was removed');
    assert.equal(await tokenWith(env.stack.clientSecret), 401, 'the old secret no longer works');
    assert.equal(await tokenWith(newest.value), 200);
    await monitor(relay, () => Date.now() + 4 * HOUR).run(recordingLogger());
    assert.equal(graph.addCalls, 1, 'not rotated again');
    assert.equal(graph.removeCalls, 1, 'not removed twice');
  });

  it('does not rotate outside the rotation window', async () => {
    await expiringIn(90);
    await monitor(rotatingRelay()).run(recordingLogger());
    assert.equal(graph.addCalls, 0);
  });

  it('a refused Graph call leaves the old secret in use and raises one alert naming the permission', async () => {
    const { oldVersion } = await expiringIn(10);
    const relay = rotatingRelay();
    graph.failNext(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    const log = recordingLogger();
    const report = await monitor(relay).run(log);
    assert.ok(report.raised.includes('rotation:failed:add'), JSON.stringify(report.raised));
    assert.match(log.lines.join('\n'), /ALERT secret_rotation_failed \(critical\).*Application\.ReadWrite\.OwnedBy/);
    assert.equal(env.vault.versions(SECRET_NAME).at(-1)!.version, oldVersion, 'Key Vault unchanged');
    assert.equal((await relay.handleQueueMessage(queueMessage(), { dequeueCount: 1 }, recordingLogger())).status, 'delivered');
  });

  it('a new secret that cannot be stored in Key Vault is removed again, and the old one stays', async () => {
    const { oldKeyId, oldVersion } = await expiringIn(10);
    const relay = rotatingRelay();
    env.vault.failNextWrite(403, 'Forbidden', "The user, group or application does not have secrets set permission on key vault 'relay'.");
    const report = await monitor(relay).run(recordingLogger());
    assert.ok(report.raised.includes('rotation:failed:store'), JSON.stringify(report.raised));
    assert.equal(graph.addCalls, 1);
    assert.equal(graph.removeCalls, 1, 'the unused new secret was removed');
    assert.deepEqual(graph.keyIds(), [oldKeyId]);
    assert.equal(env.vault.versions(SECRET_NAME).at(-1)!.version, oldVersion);
    assert.equal(await tokenWith(env.stack.clientSecret), 200);
  });

  it('exactly one instance rotates, however many run the check at once', async () => {
    await expiringIn(10);
    const first = rotatingRelay();
    const shared = {
      MONITOR_STATE_CONTAINER: first.config.monitor.stateContainer,
    };
    const versionsBefore = env.vault.versions(SECRET_NAME).length;
    const instances = [first, ...Array.from({ length: 3 }, () => rotatingRelay(shared))];
    const logs = instances.map(() => recordingLogger());
    await Promise.all(instances.map((relay, i) => monitor(relay).run(logs[i]!)));
    assert.equal(graph.addCalls, 1, logs.map((log) => log.lines.filter((line) => /monitor\./.test(line)).join('\n')).join('\n----\n'));
    assert.equal(env.vault.versions(SECRET_NAME).length - versionsBefore, 1, 'one new Key Vault version');
  });
});
