/**
 * OAUTH2_PROVIDER=google over the real send path: the relay signs the RFC 7523 JWT-bearer
 * assertion with a service account key from Key Vault (the KeyVaultDouble) or from the
 * OAUTH2_SERVICE_ACCOUNT_KEY setting; the GoogleTokenDouble verifies signature, claims,
 * delegation and the domain's users and issues an opaque token; the local SMTP server's
 * Gmail front checks it, with Gmail's 334-challenge-then-535-5.7.8 flow for a refused one.
 * Messages go through the queue handler on Azurite.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RetryLaterError } from '../../../src/relay/handler';
import { monitorOf } from '../../../src/app/monitor';
import { runDoctor } from '../../../src/app/cli';
import { formatReport } from '../../../src/cli/doctor';
import { stepLabel } from '../../../src/core/setupSteps';
import { createHealthHandler } from '../../../src/http/health';
import { diagnosticTarget } from '../../../src/app/diagnostics';
import { httpInput, httpResponse } from '../../../functions/lib/http';
import { HttpRequest } from '@azure/functions';
import { LocalSmtpServer } from '../../../local/smtpServer';
import { GoogleTokenDouble, type TestServiceAccount } from '../../../local/doubles/googleTokenDouble';
import { queueMessage, recordingLogger, startRelayVaultStack, type RelayVaultStack } from '../../support/relayVaultStack';

const MAILBOX = 'relay@workspace.example';
const GMAIL_SCOPE = 'https://mail.google.com/';
const KEY_NAME = 'relay-google-key';
let env: RelayVaultStack;
let google: GoogleTokenDouble;
let gmail: LocalSmtpServer;
let account: TestServiceAccount;

/** App settings of a Google sender: the key in Key Vault, nothing of the local Entra stack. */
function googleSettings(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    OAUTH2_PROVIDER: 'google',
    OAUTH2_TOKEN_URL: undefined,
    OAUTH2_CLIENT_ID: undefined,
    OAUTH2_SCOPES: undefined,
    OAUTH2_CLIENT_SECRET_NAME: undefined,
    OAUTH2_SERVICE_ACCOUNT_KEY_NAME: KEY_NAME,
    SMTP_PORT: String(gmail.port),
    SMTP_USER: MAILBOX,
    MAIL_FROM: MAILBOX,
    ...overrides,
  };
}

async function retryReason(promise: Promise<unknown>): Promise<RetryLaterError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RetryLaterError, `expected RetryLaterError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the message to be handed back to the queue');
}

/** A service account of its own, delegated for Gmail, its key in Key Vault under `name`. */
async function delegatedAccount(name: string, vaultName: string): Promise<TestServiceAccount> {
  const created = await google.createServiceAccount(name);
  google.delegate(created.clientId, [GMAIL_SCOPE]);
  env.vault.setSecret(vaultName, { value: created.keyJson, contentType: 'application/json' });
  return created;
}

/** Nothing of the key, the assertion or a token in `text`. */
function assertNoKeyMaterial(text: string, key: TestServiceAccount, what: string): void {
  for (const line of key.privateKeyPem.split('\n').filter((part) => part.length > 20)) assert.ok(!text.includes(line), `no private key line in ${what}`);
  for (const token of google.issuedTokens) assert.ok(!text.includes(token.slice(5, 40)), `no access token in ${what}`);
  assert.ok(!/eyJhbGciOiJSUzI1NiI/.test(text), `no assertion (JWT) in ${what}`);
}

before(async () => {
  env = await startRelayVaultStack();
  google = await GoogleTokenDouble.start({ tls: env.stack.certs });
  gmail = await LocalSmtpServer.start({
    tls: env.stack.certs,
    authorizedMailboxes: [MAILBOX],
    verifyToken: (token) => google.verifyAccessToken(token),
    gmail: true,
  });
  google.addUser(MAILBOX);
  account = await google.createServiceAccount();
  google.delegate(account.clientId, [GMAIL_SCOPE]);
  env.vault.setSecret(KEY_NAME, { value: account.keyJson, contentType: 'application/json', expiresOn: new Date(Date.now() + 200 * 86_400_000) });
});

after(async () => {
  await env.close();
  await gmail.close();
  await google.close();
});

describe('Google Workspace sender', () => {
  it('delivers with the key from Key Vault: an RS256 assertion verified by the token endpoint, Gmail XOAUTH2 as the mailbox, no key in the log', async () => {
    const logger = recordingLogger();
    const relay = env.relay(googleSettings(), logger);
    const received = gmail.received.length;
    const outcome = await relay.handleQueueMessage(queueMessage('through gmail'), { dequeueCount: 1 }, logger);
    assert.equal(outcome.status, 'delivered', logger.lines.join('\n'));
    assert.equal(gmail.received.length - received, 1);
    assert.equal(gmail.received.at(-1)!.user, MAILBOX);
    const { header, claims } = google.lastAssertion!;
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT', kid: account.privateKeyId });
    assert.equal(claims.iss, account.clientEmail);
    assert.equal(claims.aud, google.tokenUri);
    assert.equal(claims.sub, MAILBOX);
    assert.equal(claims.scope, GMAIL_SCOPE);
    assert.ok((claims.exp as number) - (claims.iat as number) <= 3600);
    assertNoKeyMaterial(logger.lines.join('\n'), account, 'the log');
  });

  it('delivers with the key from the OAUTH2_SERVICE_ACCOUNT_KEY setting (local runs), Key Vault not asked', async () => {
    const relay = env.relay(
      googleSettings({ KEYVAULT_URL: undefined, OAUTH2_SERVICE_ACCOUNT_KEY_NAME: undefined, OAUTH2_SERVICE_ACCOUNT_KEY: account.keyJson }),
    );
    const reads = env.vault.secretReads;
    const outcome = await relay.handleQueueMessage(queueMessage('key from a setting'), { dequeueCount: 1 }, recordingLogger());
    assert.equal(outcome.status, 'delivered');
    assert.equal(env.vault.secretReads, reads, 'Key Vault not asked');
    assert.equal(google.lastAssertion!.header.kid, account.privateKeyId);
  });

  it('no domain-wide delegation: unauthorized_client named with the Admin console step, the client ID and the scope; dead-lettered with the reason on the last attempt', async () => {
    const created = await google.createServiceAccount('undelegated');
    env.vault.setSecret('relay-undelegated', { value: created.keyJson });
    const relay = env.relay(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-undelegated', RELAY_MAX_DEQUEUE_COUNT: '2' }));
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('undelegated'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'google_delegation_missing');
    assert.equal(retry.failure.diagnosis, 'google_delegation_missing');
    assert.match(retry.failure.providerReply!, /^unauthorized_client: Client is unauthorized/);
    assert.match(retry.failure.remedy!, /Manage Domain Wide Delegation/);
    assert.ok(retry.failure.remedy!.includes(`Client ID ${created.clientId}`), retry.failure.remedy);
    assert.ok(retry.failure.remedy!.includes(`OAuth scopes ${GMAIL_SCOPE}`));
    assert.ok(retry.failure.remedy!.includes(stepLabel('googleDelegation')));
    const last = await relay.handleQueueMessage(queueMessage('undelegated'), { dequeueCount: 2 }, recordingLogger());
    assert.equal(last.status, 'dead-lettered');
    assert.equal(last.status === 'dead-lettered' && last.reason, 'google_delegation_missing');
  });

  it('a deleted key: "Invalid JWT Signature" named as the key; a new key version in Key Vault is then picked up without a restart', async () => {
    const created = await delegatedAccount('rotated', 'relay-rotated-key');
    const logger = recordingLogger();
    const relay = env.relay(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-rotated-key' }), logger);
    google.deleteKey(created.clientEmail, created.privateKeyId);
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('deleted key'), { dequeueCount: 1 }, logger));
    assert.equal(retry.failure.reason, 'google_key_rejected');
    assert.match(retry.failure.providerReply!, /Invalid JWT Signature/);
    assert.match(retry.failure.remedy!, /new version of the Key Vault secret/);
    // The operator creates a new key and stores it as a new version.
    const renewed = await google.createKey(created.clientEmail);
    const version = env.vault.setSecret('relay-rotated-key', { value: renewed.keyJson });
    const outcome = await relay.handleQueueMessage(queueMessage('new key'), { dequeueCount: 2 }, logger);
    assert.equal(outcome.status, 'delivered', logger.lines.join('\n'));
    assert.equal(google.lastAssertion!.header.kid, renewed.privateKeyId);
    assert.match(logger.lines.join('\n'), new RegExp(`secret\\.retry_with_latest.*"version":"${version}"`));
  });

  it("the host's clock off by two hours: the iat/exp refusal names the clock", async () => {
    const relay = env.relay(googleSettings());
    google.clockOffsetSeconds = 7200;
    try {
      const retry = await retryReason(relay.handleQueueMessage(queueMessage('skewed'), { dequeueCount: 1 }, recordingLogger()));
      assert.equal(retry.failure.reason, 'google_clock_skew');
      assert.match(retry.failure.providerReply!, /short-lived token/);
      assert.match(retry.failure.remedy!, /clock \(NTP\)/);
    } finally {
      google.clockOffsetSeconds = 0;
    }
  });

  it('a mailbox that is no user of the domain: "Invalid email or User ID" names SMTP_USER', async () => {
    const relay = env.relay(googleSettings({ SMTP_USER: 'nobody@workspace.example', MAIL_FROM: 'nobody@workspace.example' }));
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('unknown user'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'google_user_unknown');
    assert.match(retry.failure.remedy!, /SMTP_USER/);
    assert.equal(google.lastAssertion!.claims.sub, 'nobody@workspace.example');
  });

  it('a disabled service account: disabled_client named with the enable step', async () => {
    const created = await delegatedAccount('disabled', 'relay-disabled-key');
    google.disableAccount(created.clientEmail);
    const relay = env.relay(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-disabled-key' }));
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('disabled'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'google_account_disabled');
    assert.match(retry.failure.remedy!, /gcloud iam service-accounts enable/);
  });

  it('a Key Vault secret that is not a service account key: refused before any token request, without echoing it', async () => {
    const value = JSON.stringify({
      type: 'authorized_user',
      client_id: 'x.apps.googleusercontent.com',
      client_secret: 'GOCSPX-not-for-here-0123456789',
      refresh_token: '1//0abcdefghijkl',
    });
    env.vault.setSecret('relay-wrong-json', { value });
    const relay = env.relay(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-wrong-json' }));
    const requests = google.requests;
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('wrong json'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'google_key_unusable');
    assert.match(retry.failure.message, /"type" is not "service_account"/);
    assert.ok(!JSON.stringify(retry.failure.toJSON()).includes('GOCSPX-not-for-here'));
    assert.equal(google.requests, requests, 'nothing sent to the token endpoint');
  });

  it('a token Gmail refuses: 334 challenge, empty answer, 535-5.7.8; the token is dropped, renewed once, and the message delivered', async () => {
    const logger = recordingLogger();
    const fresh = env.relay(googleSettings(), logger);
    // The cache holds a token that Google then revokes (as after the mailbox's password was reset).
    const cached = await fresh.parts.tokens!.getToken();
    google.revokeToken(cached.token);
    const failures = gmail.authFailures;
    const outcome = await fresh.handleQueueMessage(queueMessage('after revocation'), { dequeueCount: 1 }, logger);
    assert.equal(outcome.status, 'delivered', logger.lines.join('\n'));
    assert.equal(gmail.authFailures - failures, 1, 'one refused login');
    assert.equal(fresh.parts.tokens!.stats.invalidations, 1, 'the refused token was dropped');
    assert.match(logger.lines.join('\n'), /smtp\.token_refused.*535-5\.7\.8 Username and Password not accepted/);
    assertNoKeyMaterial(logger.lines.join('\n'), account, 'the log');
  });

  it("a token without Gmail's scope: the renewal does not help, and the 535-5.7.8 is classified with the challenge's status and scope", async () => {
    const created = await google.createServiceAccount('send-only');
    google.delegate(created.clientId, ['https://www.googleapis.com/auth/gmail.send']);
    env.vault.setSecret('relay-send-only', { value: created.keyJson });
    const logger = recordingLogger();
    const relay = env.relay(
      googleSettings({
        OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-send-only',
        OAUTH2_SCOPES: 'https://www.googleapis.com/auth/gmail.send',
        RELAY_MAX_DEQUEUE_COUNT: '1',
      }),
      logger,
    );
    const outcome = await relay.handleQueueMessage(queueMessage('wrong scope'), { dequeueCount: 1 }, logger);
    assert.equal(outcome.status, 'dead-lettered', logger.lines.join('\n'));
    assert.equal(outcome.status === 'dead-lettered' && outcome.reason, 'smtp_auth_rejected');
    assert.equal(relay.parts.tokens!.stats.invalidations, 1, 'one renewal');
    const text = logger.lines.join('\n');
    assert.match(text, /Gmail refused the access token \(its challenge: status 400, schemes Bearer, scope https:\/\/mail\.google\.com\/\)/);
    assert.match(text, /"diagnosis":"gmail_token_refused"/);
    assertNoKeyMaterial(text, created, 'the log');
  });

  it('the doctor runs its checks for a google sender (key, token, SMTP login) and keeps the key out of its report', async () => {
    const report = await runDoctor({ env: env.settings(googleSettings()), identity: { vaultCredential: env.credential } });
    assert.equal(report.ok, true, formatReport(report));
    const byId = Object.fromEntries(report.checks.map((check) => [check.id, check]));
    assert.equal(byId.token!.status, 'ok');
    assert.equal(byId.smtp_auth!.status, 'ok');
    assertNoKeyMaterial(formatReport(report), account, 'the doctor report');
  });

  it('the doctor names the Admin console delegation step when the client ID is not delegated', async () => {
    const created = await google.createServiceAccount('doctor-undelegated');
    env.vault.setSecret('relay-doctor-undelegated', { value: created.keyJson });
    const report = await runDoctor({
      env: env.settings(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-doctor-undelegated' })),
      identity: { vaultCredential: env.credential },
    });
    assert.equal(report.firstFailure?.id, 'token');
    assert.equal(report.firstFailure?.finding?.diagnosis, 'google_delegation_missing');
    assert.ok(report.firstFailure.finding.steps.includes(stepLabel('googleDelegation')));
    assert.ok(formatReport(report).includes(created.clientId));
  });

  it('/api/health runs the same checks for a google sender', async () => {
    const relay = env.relay(googleSettings());
    const handler = createHealthHandler(() => diagnosticTarget(() => relay.parts));
    const response = httpResponse(await handler(httpInput(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }))));
    assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
    const checks = (response.jsonBody as { checks: Array<{ id: string; status: string }> }).checks;
    const byId = Object.fromEntries(checks.map((check) => [check.id, check]));
    assert.equal(byId.token!.status, 'ok');
    assert.equal(byId.smtp_auth!.status, 'ok');
    assertNoKeyMaterial(JSON.stringify(response.jsonBody), account, 'the health answer');
  });

  it("the monitor warns before the key's Key Vault expiry (an organization's key expiry), once per version", async () => {
    const created = await google.createServiceAccount('expiring');
    google.delegate(created.clientId, [GMAIL_SCOPE]);
    const version = env.vault.setSecret('relay-expiring-key', { value: created.keyJson, expiresOn: new Date(Date.now() + 10 * 86_400_000) });
    const relay = env.relay(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-expiring-key' }));
    const log = recordingLogger();
    const first = await monitorOf(relay.parts).run(log);
    assert.deepEqual(first.raised, [`secret:expiry_warning:${version}`], log.lines.join('\n'));
    assert.equal(first.tokenOk, true, log.lines.join('\n'));
    const text = log.lines.join('\n');
    assert.match(
      text,
      /ALERT secret_expiry_warning \(warning\): The Google service account key in Key Vault secret "relay-expiring-key".* expires in (10|11) day/,
    );
    assert.match(text, /Create a new key for the service account/);
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, [], 'not repeated on the next tick');
    assertNoKeyMaterial(log.lines.join('\n'), created, 'the monitor log');
  });

  it('a key without an expiry (Google keys need none) raises no expiry alert; the doctor warns ahead of an expiry with the key step', async () => {
    const relay = env.relay(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-undated-key' }));
    const created = await delegatedAccount('undated', 'relay-undated-key');
    const report = await monitorOf(relay.parts).run(recordingLogger());
    assert.deepEqual(report.raised, []);
    assert.equal(report.tokenOk, true);
    env.vault.setSecret('relay-undated-key', { value: created.keyJson, expiresOn: new Date(Date.now() + 5 * 86_400_000) });
    const doctor = await runDoctor({
      env: env.settings(googleSettings({ OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'relay-undated-key' })),
      identity: { vaultCredential: env.credential },
    });
    const secret = doctor.checks.find((check) => check.id === 'secret')!;
    assert.equal(secret.status, 'warning', formatReport(doctor));
    assert.equal(secret.finding?.diagnosis, 'google_key_expiring');
    assert.match(secret.detail!, /Google service account key/);
  });

  it('a RELAY_SENDERS google sender beside the default Microsoft one: routed by its id, its key by reference', async () => {
    const senders = JSON.stringify([
      { id: 'gmail', provider: 'google', mailbox: MAILBOX, credential: { keyVaultSecret: KEY_NAME }, smtp: { host: '127.0.0.1', port: gmail.port } },
    ]);
    const relay = env.relay({ RELAY_SENDERS: senders });
    const received = gmail.received.length;
    const message = JSON.stringify({ id: `g-${process.pid}-senders`, sender: 'gmail', to: 'someone@example.net', subject: 'via RELAY_SENDERS', text: 'body' });
    const outcome = await relay.handleQueueMessage(message, { dequeueCount: 1 }, recordingLogger());
    assert.equal(outcome.status, 'delivered');
    assert.equal(gmail.received.length - received, 1);
    assert.equal(google.lastAssertion!.claims.sub, MAILBOX);
  });
});
