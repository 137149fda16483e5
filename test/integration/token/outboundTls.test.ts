/**
 * Every outbound HTTPS client requires TLS 1.2 or later, as SMTP does: the token
 * endpoint through @azure/identity (client secret and federated), the generic
 * OAuth2 token endpoint, Key Vault, Microsoft Graph and the alert webhook. Each
 * is pointed at a loopback server that speaks nothing newer than TLS 1.1 (with
 * the process defaults lowered, as --tls-min-v1.0 would) and must not get a
 * single request through; a server that speaks exactly TLS 1.2 is reached.
 * Requests are counted by the servers.
 *
 * The alert webhook also has a deadline for the whole exchange: a server that
 * trickles its answer byte by byte does not hold it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/identity';
import { sharedCertificates } from '../../support/localHelpers';
import type { LocalCertificates } from '../../../local/certs';
import { MicrosoftTokenSource } from '../../../src/token/microsoftTokenSource';
import { FederatedTokenSource } from '../../../src/token/federatedTokenSource';
import { GenericTokenSource } from '../../../src/token/genericTokenSource';
import { createSecretClient } from '../../../src/secrets/vaultClient';
import { GraphApplicationClient } from '../../../src/monitor/graphClient';
import { webhookChannel } from '../../../src/monitor/channels';
import type { Alert } from '../../../src/monitor/alerts';

const TENANT_ID = '7a1c0de0-0000-4000-8000-0000000071a5';
const CLIENT_ID = '5e4d0000-0000-4000-8000-0000000071a5';
const SCOPES = ['https://outlook.office.com/.default'];

interface CountingServer {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/** An HTTPS server with the given TLS settings that counts the requests it gets and answers each (200 for the webhook, 404 otherwise). */
async function countingServer(certs: LocalCertificates, options: tls.TlsOptions): Promise<CountingServer> {
  const state = { requests: 0 };
  const server = https.createServer({ cert: certs.certPem, key: certs.keyPem, ...options }, (req, res) => {
    state.requests++;
    req.resume();
    if (req.url === '/hook') res.writeHead(200).end('1');
    else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NotFound', message: 'nothing here' } }));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const credential: TokenCredential = { getToken: async () => ({ token: 'vault-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const alert: Alert = { name: 'secret_expired', severity: 'critical', summary: 'test alert', details: {} };

/** Each outbound client, called at `base` trusting `ca`; whether the call resolves does not matter, only what reached the server. */
const clients: Array<{ name: string; call(base: string, ca: string): Promise<unknown> }> = [
  {
    name: 'the Microsoft token endpoint (@azure/identity ClientSecretCredential)',
    call: (base, ca) =>
      new MicrosoftTokenSource(
        { tenantId: TENANT_ID, clientId: CLIENT_ID, clientSecret: 'not-a-real-secret', scopes: SCOPES, authorityHost: base, disableInstanceDiscovery: true },
        { extraCa: ca },
      ).fetchToken(),
  },
  {
    name: 'the Microsoft token endpoint with federation (@azure/identity ClientAssertionCredential)',
    call: (base, ca) =>
      new FederatedTokenSource(
        { tenantId: TENANT_ID, clientId: CLIENT_ID, scopes: SCOPES, authorityHost: base, disableInstanceDiscovery: true },
        async () => 'assertion',
        {
          extraCa: ca,
        },
      ).fetchToken(),
  },
  {
    name: 'a generic OAuth2 token endpoint',
    call: (base, ca) =>
      new GenericTokenSource(
        { tokenUrl: `${base}/token`, clientId: CLIENT_ID, clientSecret: 'not-a-real-secret', scopes: SCOPES },
        { extraCa: ca },
      ).fetchToken(),
  },
  {
    name: 'Key Vault (SecretClient)',
    call: (base, ca) => createSecretClient({ vaultUrl: base, secretName: 'relay-secret', cacheMs: 0 }, credential, { extraCa: ca }).getSecret('relay-secret'),
  },
  {
    name: 'Microsoft Graph',
    call: (base, ca) => new GraphApplicationClient({ graphUrl: base, appId: CLIENT_ID, token: async () => 'graph-token', extraCa: ca }).listPasswords(),
  },
  {
    name: 'the alert webhook',
    call: (base, ca) => webhookChannel(`${base}/hook`, ca).deliver(alert),
  },
];

describe('outbound HTTPS requires TLS 1.2 or later', () => {
  let certs: LocalCertificates;
  let legacy: CountingServer;
  let modern: CountingServer;
  const saved = { minVersion: tls.DEFAULT_MIN_VERSION, ciphers: tls.DEFAULT_CIPHERS };

  before(async () => {
    certs = await sharedCertificates();
    // As with --tls-min-v1.0: a client that relies on the process defaults would speak TLS 1.1.
    tls.DEFAULT_MIN_VERSION = 'TLSv1';
    tls.DEFAULT_CIPHERS = 'DEFAULT@SECLEVEL=0';
    legacy = await countingServer(certs, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    modern = await countingServer(certs, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  });

  after(async () => {
    tls.DEFAULT_MIN_VERSION = saved.minVersion;
    tls.DEFAULT_CIPHERS = saved.ciphers;
    await legacy?.close();
    await modern?.close();
  });

  test('control: with these process defaults a plain HTTPS client does speak TLS 1.1 to the legacy server', async () => {
    const before = legacy.requests;
    const status = await new Promise<number>((resolve, reject) => {
      const request = https.request(`${legacy.url}/`, { ca: certs.caPem, agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end();
    });
    assert.equal(status, 404);
    assert.equal(legacy.requests - before, 1);
  });

  for (const client of clients) {
    test(`${client.name}: refuses a TLS 1.1 server, reaches a TLS 1.2 one`, async () => {
      const refusedBefore = legacy.requests;
      await assert.rejects(client.call(legacy.url, certs.caPem));
      assert.equal(legacy.requests - refusedBefore, 0, 'no request over TLS 1.1');

      const reachedBefore = modern.requests;
      await client.call(modern.url, certs.caPem).catch(() => undefined);
      assert.ok(modern.requests - reachedBefore >= 1, 'the TLS 1.2 server got the request');
    });
  }
});

describe('the alert webhook has a deadline for the whole exchange', () => {
  test('a webhook that answers one byte at a time, never finishing, is given up at the deadline', async () => {
    const certs = await sharedCertificates();
    const timers = new Set<NodeJS.Timeout>();
    const server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
      req.resume();
      // Headers at once, then a byte every 50 ms: an idle timeout never fires.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 50);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const delivery = webhookChannel(url, certs.caPem, 400).deliver(alert);
      // Generous: the deadline is 400 ms; without one this never settles.
      let bound: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        delivery.then(
          () => 'resolved',
          (error: Error) => error.message,
        ),
        new Promise<string>((resolve) => (bound = setTimeout(() => resolve('still waiting after 20 s'), 20_000))),
      ]);
      clearTimeout(bound);
      assert.match(outcome, /^webhook 127\.0\.0\.1:\d+: no complete answer within 400 ms$/);
    } finally {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
