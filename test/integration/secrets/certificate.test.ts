/**
 * OAUTH2_AUTH_MODE=certificate over the real send path: the relay signs an RFC 7523
 * client assertion with a client certificate read from Key Vault (the KeyVaultDouble
 * serving the certificate's secret, as Key Vault does) or from a PEM file, and the
 * local Entra endpoint verifies it against the certificates uploaded to the app
 * (x5t#S256, signature, aud, iss = sub, exp/nbf, jti) before it issues the token the
 * local SMTP server checks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { X509Certificate, createHash } from 'node:crypto';
import path from 'node:path';
import { LOCAL_CLIENT_ID } from '../../../local/stack';
import { JWT_BEARER_ASSERTION } from '../../../local/tokenServer';
import { RetryLaterError } from '../../../src/relay/handler';
import { monitorOf } from '../../../src/app/monitor';
import { runDoctor } from '../../../src/app/cli';
import { formatReport } from '../../../src/cli/doctor';
import { stepLabel } from '../../../src/core/setupSteps';
import { createHealthHandler } from '../../../src/http/health';
import { diagnosticTarget } from '../../../src/app/diagnostics';
import { httpInput, httpResponse } from '../../../functions/lib/http';
import { HttpRequest } from '@azure/functions';
import { queueMessage, recordingLogger, startRelayVaultStack, type RelayVaultStack } from '../../support/relayVaultStack';
import { createClientCertificate, createTestCertificateAuthority, type TestClientCertificate } from '../../support/clientCertificates';
import { tempDir } from '../../support/localHelpers';

const CERT_NAME = 'relay-client-certificate';
let env: RelayVaultStack;
let current: TestClientCertificate;

function certificateSettings(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { OAUTH2_AUTH_MODE: 'certificate', OAUTH2_CLIENT_SECRET_NAME: undefined, OAUTH2_CLIENT_CERTIFICATE_NAME: CERT_NAME, ...overrides };
}

function storeInVault(certificate: TestClientCertificate, name = CERT_NAME): string {
  return env.vault.setCertificate(name, {
    value: certificate.pem,
    contentType: 'application/x-pem-file',
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  });
}

function thumbprintSha256(certificatePem: string): string {
  return createHash('sha256').update(new X509Certificate(certificatePem).raw).digest('base64url');
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

before(async () => {
  env = await startRelayVaultStack();
  current = await createClientCertificate();
  env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, current.certificatePem);
  storeInVault(current);
});

after(async () => {
  await env.close();
});

describe('certificate credential', () => {
  it('delivers with a Key Vault certificate: a verified jwt-bearer assertion, no client secret sent, no key in the log', async () => {
    const logger = recordingLogger();
    const relay = env.relay(certificateSettings(), logger);
    const received = env.stack.smtpServer.received.length;
    const outcome = await relay.handleQueueMessage(queueMessage('signed with a certificate'), { dequeueCount: 1 }, logger);
    assert.equal(outcome.status, 'delivered');
    assert.equal(env.stack.smtpServer.received.length - received, 1);
    const request = env.stack.tokenServer.lastTokenRequest!;
    assert.equal(request.client_assertion_type, JWT_BEARER_ASSERTION);
    assert.equal(request.client_secret, undefined);
    const seen = env.stack.tokenServer.lastCertificateAssertion!;
    assert.equal(seen.header['x5t#S256'], thumbprintSha256(current.certificatePem));
    assert.equal(seen.header.x5c, undefined, 'no chain unless OAUTH2_SEND_CERTIFICATE_CHAIN');
    assert.equal(seen.claims.iss, LOCAL_CLIENT_ID);
    assert.equal(seen.claims.sub, LOCAL_CLIENT_ID);
    assert.equal(seen.claims.aud, env.stack.tokenServer.tokenUrl());
    assert.equal(typeof seen.claims.jti, 'string');
    const text = logger.lines.join('\n');
    const keyBody = current.keyPem.split('\n')[1]!;
    assert.ok(!text.includes(keyBody), 'no private key in the log');
  });

  it('delivers with a PEM file (OAUTH2_CLIENT_CERTIFICATE_PATH), no Key Vault', async () => {
    const file = path.join(await tempDir('relay-cert-'), 'client.pem');
    await writeFile(file, current.pem, { mode: 0o600 });
    const relay = env.relay(certificateSettings({ KEYVAULT_URL: undefined, OAUTH2_CLIENT_CERTIFICATE_NAME: undefined, OAUTH2_CLIENT_CERTIFICATE_PATH: file }));
    const reads = env.vault.secretReads;
    const outcome = await relay.handleQueueMessage(queueMessage('from a file'), { dequeueCount: 1 }, recordingLogger());
    assert.equal(outcome.status, 'delivered');
    assert.equal(env.vault.secretReads, reads, 'Key Vault not asked');
    assert.equal(env.stack.tokenServer.lastCertificateAssertion!.header['x5t#S256'], thumbprintSha256(current.certificatePem));
  });

  it('sends the chain with OAUTH2_SEND_CERTIFICATE_CHAIN, for subject name + issuer trust', async () => {
    const ca = await createTestCertificateAuthority();
    const issued = await createClientCertificate({ issuer: ca });
    env.stack.tokenServer.trustCertificateSubject(LOCAL_CLIENT_ID, issued.subject, ca.certificatePem);
    const name = 'relay-sni-certificate';
    storeInVault(issued, name);
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name, OAUTH2_SEND_CERTIFICATE_CHAIN: 'true' }));
    const outcome = await relay.handleQueueMessage(queueMessage('subject name and issuer'), { dequeueCount: 1 }, recordingLogger());
    assert.equal(outcome.status, 'delivered');
    const x5c = env.stack.tokenServer.lastCertificateAssertion!.header.x5c as string[];
    assert.equal(x5c.length, 2, 'leaf and issuer');
    assert.equal(new X509Certificate(Buffer.from(x5c[0]!, 'base64')).subject, issued.subject);
  });

  it('a certificate not uploaded to the app: AADSTS700027 with the upload remedy, retried, dead-lettered with the reason on the last attempt', async () => {
    const stranger = await createClientCertificate();
    const name = 'relay-unregistered-certificate';
    storeInVault(stranger, name);
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name, RELAY_MAX_DEQUEUE_COUNT: '2' }));
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('unregistered'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'invalid_client_certificate');
    assert.equal(retry.failure.diagnosis, 'certificate_not_registered');
    assert.match(retry.failure.providerReply!, /AADSTS700027/);
    assert.match(retry.failure.remedy!, /Upload the certificate's public part to .*App registrations.*Certificates/);
    const last = await relay.handleQueueMessage(queueMessage('unregistered'), { dequeueCount: 2 }, recordingLogger());
    assert.equal(last.status, 'dead-lettered');
    assert.equal(last.status === 'dead-lettered' && last.reason, 'invalid_client_certificate');
  });

  it('a Key Vault certificate stored as PKCS#12: refused before any token request, naming the PEM content type', async () => {
    const name = 'relay-pkcs12-certificate';
    env.vault.setCertificate(name, {
      value: 'MIIKAgEDMIIJvgYJKoZIhvcNAQcBoIIJrwSCCasw',
      contentType: 'application/x-pkcs12',
      notBefore: current.notBefore,
      notAfter: current.notAfter,
    });
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name }));
    const requests = env.stack.tokenServer.tokenRequests;
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('pkcs12'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'client_certificate_unusable');
    assert.equal(retry.failure.diagnosis, 'certificate_is_pkcs12');
    assert.match(retry.failure.remedy!, /application\/x-pem-file/);
    assert.equal(env.stack.tokenServer.tokenRequests, requests, 'nothing sent to the token endpoint');
  });

  it('a PEM without its private key: named as such', async () => {
    const name = 'relay-public-only-certificate';
    env.vault.setCertificate(name, {
      value: current.certificatePem,
      contentType: 'application/x-pem-file',
      notBefore: current.notBefore,
      notAfter: current.notAfter,
    });
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name }));
    const retry = await retryReason(relay.handleQueueMessage(queueMessage('no key'), { dequeueCount: 1 }, recordingLogger()));
    assert.equal(retry.failure.reason, 'client_certificate_unusable');
    assert.equal(retry.failure.diagnosis, 'certificate_without_private_key');
    assert.match(retry.failure.message, /no private key/);
  });

  it('picks up a renewed certificate (a new Key Vault version) without a restart once the old one is refused', async () => {
    const name = 'relay-renewed-certificate';
    const old = await createClientCertificate();
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, old.certificatePem);
    storeInVault(old, name);
    const logger = recordingLogger();
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name }), logger);
    // This instance has read the certificate (as on its first message) and keeps it for an hour.
    await relay.parts.secrets!.current();
    // Renewal outside the relay: a new version in Key Vault, its public part uploaded, the old one removed from the app.
    const renewed = await createClientCertificate();
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, renewed.certificatePem);
    env.stack.tokenServer.removeClientCertificate(LOCAL_CLIENT_ID, old.certificatePem);
    const version = storeInVault(renewed, name);
    const reads = env.vault.secretReads;
    const outcome = await relay.handleQueueMessage(queueMessage('after renewal'), { dequeueCount: 1 }, logger);
    assert.equal(outcome.status, 'delivered');
    assert.equal(env.vault.secretReads - reads, 1, 'the latest version was read once');
    assert.equal(env.stack.tokenServer.lastCertificateAssertion!.header['x5t#S256'], thumbprintSha256(renewed.certificatePem));
    assert.match(logger.lines.join('\n'), new RegExp(`secret\\.retry_with_latest.*"version":"${version}"`));
  });

  it('the monitor reads a renewed version, drops the token made with the old one and proves the new one', async () => {
    const name = 'relay-monitored-renewal';
    const old = await createClientCertificate();
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, old.certificatePem);
    storeInVault(old, name);
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name }));
    await monitorOf(relay.parts).run(recordingLogger());
    const renewed = await createClientCertificate();
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, renewed.certificatePem);
    storeInVault(renewed, name);
    const log = recordingLogger();
    const report = await monitorOf(relay.parts).run(log);
    assert.equal(report.rotationDetected, true, log.lines.join('\n'));
    assert.equal(report.tokenOk, true, log.lines.join('\n'));
    assert.ok(relay.parts.tokens!.stats.invalidations >= 1, 'the token made with the old certificate was dropped');
    assert.equal(env.stack.tokenServer.lastCertificateAssertion!.header['x5t#S256'], thumbprintSha256(renewed.certificatePem));
  });

  it('the monitor warns before the certificate expires, once per version, with the renewal remedy', async () => {
    const name = 'relay-expiring-certificate';
    const expiring = await createClientCertificate({ validDays: 10 });
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, expiring.certificatePem);
    const version = storeInVault(expiring, name);
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name }));
    const log = recordingLogger();
    const first = await monitorOf(relay.parts).run(log);
    assert.deepEqual(first.raised, [`secret:expiry_warning:${version}`]);
    const text = log.lines.join('\n');
    assert.match(
      text,
      new RegExp(`ALERT secret_expiry_warning \\(warning\\): The client certificate in Key Vault certificate "${name}".* expires in (10|11) day`),
    );
    assert.match(text, /Renew the Key Vault certificate/);
    assert.deepEqual((await monitorOf(relay.parts).run(recordingLogger())).raised, [], 'not repeated on the next tick');
  });

  it("the monitor takes the certificate's own notAfter when the Key Vault secret has no expiry", async () => {
    const name = 'relay-hand-stored-certificate';
    const expiring = await createClientCertificate({ validDays: 3 });
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, expiring.certificatePem);
    const version = env.vault.setSecret(name, { value: expiring.pem, contentType: 'application/x-pem-file' });
    const relay = env.relay(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name }));
    const report = await monitorOf(relay.parts).run(recordingLogger());
    assert.deepEqual(report.raised, [`secret:expiry_critical:${version}`]);
  });

  it('the doctor runs its checks in certificate mode: the certificate and its expiry, a token, the SMTP login', async () => {
    const report = await runDoctor({ env: env.settings(certificateSettings()), identity: { vaultCredential: env.credential } });
    assert.equal(report.ok, true, formatReport(report));
    const secret = report.checks.find((check) => check.id === 'secret')!;
    assert.equal(secret.status, 'ok');
    assert.match(secret.detail!, new RegExp(`Key Vault certificate "${CERT_NAME}".*expires ${current.notAfter.toISOString().slice(0, 10)}`));
    assert.ok(!formatReport(report).includes(current.keyPem.split('\n')[1]!));
  });

  it('the doctor warns ahead of the certificate expiry with the renewal finding, and the other checks still pass', async () => {
    const name = 'relay-doctor-expiring';
    const expiring = await createClientCertificate({ validDays: 10 });
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, expiring.certificatePem);
    storeInVault(expiring, name);
    const report = await runDoctor({
      env: env.settings(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name })),
      identity: { vaultCredential: env.credential },
    });
    assert.equal(report.ok, true, formatReport(report));
    const secret = report.checks.find((check) => check.id === 'secret')!;
    assert.equal(secret.status, 'warning');
    assert.equal(secret.finding?.diagnosis, 'certificate_expiring');
    assert.match(secret.finding.observed!, /the certificate expires on .* in (9|10) days/);
  });

  it('/api/health runs the same checks in certificate mode over the process components', async () => {
    const relay = env.relay(certificateSettings());
    const handler = createHealthHandler(() => diagnosticTarget(() => relay.parts));
    const response = httpResponse(await handler(httpInput(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }))));
    assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
    const checks = (response.jsonBody as { checks: Array<{ id: string; status: string; detail?: string }> }).checks;
    const byId = Object.fromEntries(checks.map((check) => [check.id, check]));
    assert.equal(byId.secret!.status, 'ok');
    assert.match(byId.secret!.detail!, /Key Vault certificate/);
    assert.equal(byId.token!.status, 'ok');
    assert.equal(byId.smtp_auth!.status, 'ok');
  });

  it('the monitor warns before a PEM file certificate expires, and reads a renewed file without a restart', async () => {
    const file = path.join(await tempDir('relay-cert-'), 'client.pem');
    const expiring = await createClientCertificate({ validDays: 5 });
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, expiring.certificatePem);
    await writeFile(file, expiring.pem, { mode: 0o600 });
    const relay = env.relay(certificateSettings({ KEYVAULT_URL: undefined, OAUTH2_CLIENT_CERTIFICATE_NAME: undefined, OAUTH2_CLIENT_CERTIFICATE_PATH: file }));
    const log = recordingLogger();
    const first = await monitorOf(relay.parts).run(log);
    assert.equal(first.raised.length, 1);
    assert.match(first.raised[0]!, /^secret:expiry_critical:/);
    assert.match(log.lines.join('\n'), /The client certificate in the certificate file .* expires in (5|6) day/);
    const renewed = await createClientCertificate();
    env.stack.tokenServer.addClientCertificate(LOCAL_CLIENT_ID, renewed.certificatePem);
    await writeFile(file, renewed.pem, { mode: 0o600 });
    const second = await monitorOf(relay.parts).run(recordingLogger());
    assert.equal(second.rotationDetected, true);
    assert.deepEqual(second.active, [], 'the renewed certificate is far from its expiry');
    assert.equal(env.stack.tokenServer.lastCertificateAssertion!.header['x5t#S256'], thumbprintSha256(renewed.certificatePem));
  });

  it('the doctor names the upload step for a certificate the app does not know', async () => {
    const name = 'relay-doctor-unregistered';
    storeInVault(await createClientCertificate(), name);
    const report = await runDoctor({
      env: env.settings(certificateSettings({ OAUTH2_CLIENT_CERTIFICATE_NAME: name })),
      identity: { vaultCredential: env.credential },
    });
    assert.equal(report.firstFailure?.id, 'token');
    assert.equal(report.firstFailure?.finding?.diagnosis, 'certificate_not_registered');
    assert.ok(report.firstFailure.finding.steps.includes(stepLabel('clientCertificate')));
  });
});
