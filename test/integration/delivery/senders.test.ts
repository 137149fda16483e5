/**
 * Several senders in one relay (issue 14, points 1 and 2), through the queue handler on
 * Azurite as src/app/components.ts wires it: the local token endpoint knows three app
 * registrations, the local SMTP server gives each app FullAccess on its own mailbox only,
 * and two senders are broken — one's token endpoint fails for its client, the other's own SMTP
 * server refuses every connection — while the other senders' mail flows. (Two senders, because
 * a sender whose token fails never opens a connection: the token is fetched before a send is
 * counted against the mailbox's limits.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID, type LocalStack } from '../../../local/stack';
import { LocalSmtpServer } from '../../../local/smtpServer';
import type { Logger } from '../../../src/core/log';
import { RelayHarness } from '../../support/relayHarness';
import { RawSmtpClient, xoauth2 } from '../../support/localHelpers';

const BILLING_CLIENT = '5e4d0000-0000-4000-8000-0000000000b2';
const BROKEN_CLIENT = '5e4d0000-0000-4000-8000-0000000000c3';
const BILLING_MAILBOX = 'billing@example.com';
const BROKEN_MAILBOX = 'broken@example.com';
const REFUSING_CLIENT = '5e4d0000-0000-4000-8000-0000000000d5';
const REFUSING_MAILBOX = 'refusing@example.com';
const refusingSecret = `refusing~${randomBytes(18).toString('base64url')}`;
const billingSecret = `billing~${randomBytes(18).toString('base64url')}`;
const brokenSecret = `broken~${randomBytes(18).toString('base64url')}`;

let stack: LocalStack;
let brokenSmtp: LocalSmtpServer;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  stack.tokenServer.setClientSecret(BILLING_CLIENT, billingSecret);
  stack.tokenServer.setClientSecret(BROKEN_CLIENT, brokenSecret);
  stack.tokenServer.setClientSecret(REFUSING_CLIENT, refusingSecret);
  // Each app's service principal has FullAccess on its own mailbox only, as in Exchange Online.
  stack.smtpServer.grantMailboxes(LOCAL_CLIENT_ID, [LOCAL_MAILBOX]);
  stack.smtpServer.grantMailboxes(BILLING_CLIENT, [BILLING_MAILBOX]);
  stack.smtpServer.grantMailboxes(BROKEN_CLIENT, [BROKEN_MAILBOX]);
  brokenSmtp = await LocalSmtpServer.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    authorizedMailboxes: [BROKEN_MAILBOX, REFUSING_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
  });
});
after(async () => {
  await brokenSmtp?.close();
  await stack?.close();
});

function recording(): Logger & { entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const push = (message: string, props?: Record<string, unknown>) => void entries.push({ message, ...props });
  return { entries, info: push, warn: push, error: push };
}

/** The stack's default sender plus billing (same SMTP server, its own app), broken (its token fails) and refusing (its own SMTP server refuses). */
function sendersSetting(): string {
  const common = { tenant: LOCAL_TENANT_ID, authorityHost: stack.tokenServer.url };
  return JSON.stringify([
    {
      id: 'billing',
      mailbox: BILLING_MAILBOX,
      allowedFrom: ['invoices@example.com'],
      clientId: BILLING_CLIENT,
      credential: { secretSetting: 'BILLING_SECRET' },
      ...common,
    },
    {
      id: 'broken',
      mailbox: BROKEN_MAILBOX,
      clientId: BROKEN_CLIENT,
      credential: { secretSetting: 'BROKEN_SECRET' },
      smtp: { host: '127.0.0.1', port: brokenSmtp.port, security: 'starttls' },
      ...common,
    },
    {
      id: 'refusing',
      mailbox: REFUSING_MAILBOX,
      clientId: REFUSING_CLIENT,
      credential: { secretSetting: 'REFUSING_SECRET' },
      smtp: { host: '127.0.0.1', port: brokenSmtp.port, security: 'starttls' },
      ...common,
    },
  ]);
}

function mail(key: string, extra: Record<string, unknown> = {}) {
  return { id: key, to: 'rcpt@example.net', subject: `senders ${key}`, text: `body of ${key}`, ...extra };
}

describe('several senders on the local stack', () => {
  it('routes each message to its sender, and one broken sender holds the others back in nothing', async () => {
    const name = `senders-${++counter}`;
    const logger = recording();
    const harness = await new RelayHarness(stack, {
      name,
      runtime: true,
      logger,
      // A failing message is dead-lettered at once (no wait for retries): the broken sender's mail ends with its reason.
      settings: {
        RELAY_SENDERS: sendersSetting(),
        BILLING_SECRET: billingSecret,
        BROKEN_SECRET: brokenSecret,
        REFUSING_SECRET: refusingSecret,
        RELAY_RETRY_MAX_AGE_SECONDS: '0',
      },
    }).start();
    // The refusing sender's SMTP server refuses every connection; the broken sender's token endpoint fails for its client.
    brokenSmtp.failNext('connect', { code: 421, message: '4.3.2 Service not available, closing transmission channel' }, 1000);
    stack.tokenServer.failAlwaysFor(BROKEN_CLIENT, {
      status: 400,
      body: {
        error: 'invalid_client',
        error_description:
          "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '5e4d0000-0000-4000-8000-0000000000c3'.",
        error_codes: [7000215],
      },
    });
    const receivedBefore = stack.smtpServer.received.length;
    try {
      const plan: Array<[string, Record<string, unknown>, string]> = [];
      for (let i = 0; i < 4; i++) {
        plan.push([`${name}-default-${i}`, {}, 'default']);
        plan.push([`${name}-billing-${i}`, i % 2 === 0 ? { sender: 'billing' } : { from: 'Invoices <invoices@example.com>' }, 'billing']);
        plan.push([`${name}-broken-${i}`, { sender: 'broken' }, 'broken']);
        plan.push([`${name}-refusing-${i}`, { sender: 'refusing' }, 'refusing']);
      }
      plan.push([`${name}-unknown`, { sender: 'payroll' }, 'none']);
      plan.push([`${name}-stranger`, { from: 'ceo@example.com' }, 'none']);
      plan.push([`${name}-crossed`, { sender: 'billing', from: LOCAL_MAILBOX }, 'none']);
      for (const [key, extra] of plan) await harness.enqueue(key, mail(key, extra));
      await harness.drain(60_000);
      const result = await harness.reconcile();

      assert.equal(result.lost.length, 0, result.summary);
      assert.equal(result.duplicated.length, 0, result.summary);
      for (const [key, , sender] of plan) {
        if (sender === 'default' || sender === 'billing') assert.equal(result.deliveries.get(key), 1, `${key} delivered: ${result.summary}`);
        else assert.equal(result.deliveries.get(key), undefined, `${key} not delivered`);
      }
      // Each sender's mail went through its own mailbox, with its own app's token.
      const received = stack.smtpServer.received.slice(receivedBefore);
      const userOf = (key: string) =>
        received.find((message) => message.raw.toString('utf8').includes(`subject: senders ${key}`.replace('subject', 'Subject')))?.user;
      assert.equal(userOf(`${name}-default-0`), LOCAL_MAILBOX);
      assert.equal(userOf(`${name}-billing-0`), BILLING_MAILBOX);
      assert.equal(userOf(`${name}-billing-1`), BILLING_MAILBOX, 'routed by its from');
      assert.equal(received.filter((message) => message.user === BROKEN_MAILBOX || message.user === REFUSING_MAILBOX).length, 0);

      // Each broken sender's mail ends dead-lettered with its own failure: the token endpoint's reply, the SMTP refusal.
      const reasonsOf = (who: string) => plan.filter(([, , sender]) => sender === who).map(([key]) => result.deadLetters.get(key)?.[0]?.reason);
      assert.deepEqual(reasonsOf('broken'), Array(4).fill('invalid_client_secret'));
      const refusals = reasonsOf('refusing');
      assert.ok(
        refusals.every((reason) => reason === 'smtp_throttled' || reason === 'smtp_unreachable'),
        String(refusals),
      );
      // Each record names the sender it was routed to; a message no sender may take names none.
      for (const [key, , sender] of plan.filter(([, , one]) => one === 'broken' || one === 'refusing'))
        assert.equal(result.deadLetters.get(key)?.[0]?.sender, sender, key);
      assert.equal(result.deadLetters.get(`${name}-unknown`)?.[0]?.sender, undefined);
      assert.ok(brokenSmtp.connectionsOpened >= 1, 'the refusing sender used its own SMTP server');
      assert.ok((stack.tokenServer.requestsByClient.get(BROKEN_CLIENT) ?? 0) >= 1);
      for (const key of [`${name}-unknown`, `${name}-stranger`, `${name}-crossed`]) {
        assert.equal(result.deadLetters.get(key)?.[0]?.reason, 'sender_not_allowed', key);
      }
      assert.match(result.deadLetters.get(`${name}-unknown`)![0]!.remedy!, /RELAY_SENDERS/);

      // Each sender's own parts: the default sender was never paused by the broken one's failures.
      const parts = harness.parts!;
      assert.equal(parts.senders.get('default').throttle.pausedForMs(), 0);
      assert.notEqual(parts.senders.get('billing').tokens, parts.senders.get('default').tokens);
      const activity = harness.relay!.activity();
      assert.equal(activity.delivered, 8);
      assert.equal(activity.senders?.default?.delivered, 4);
      assert.equal(activity.senders?.billing?.delivered, 4);
      assert.equal(activity.senders?.broken?.delivered, 0);
      assert.equal(activity.senders?.broken?.deadLettered, 4);
      assert.equal(activity.senders?.refusing?.delivered, 0);
      assert.equal(activity.senders?.refusing?.deadLettered, 4);
      // Log lines carry the sender's id.
      const delivered = logger.entries.filter((entry) => entry.event === 'relay.delivered');
      assert.deepEqual(new Set(delivered.map((entry) => entry.sender)), new Set(['default', 'billing']));
      for (const who of ['broken', 'refusing']) {
        const deadLettered = logger.entries.filter((entry) => entry.event === 'relay.dead_lettered' && entry.sender === who);
        assert.equal(deadLettered.length, 4, who);
      }
      // No client secret anywhere in the log.
      const text = JSON.stringify(logger.entries);
      assert.ok(!text.includes(billingSecret) && !text.includes(brokenSecret) && !text.includes(refusingSecret));
    } finally {
      stack.tokenServer.failAlwaysFor(BROKEN_CLIENT, undefined);
      await harness.relay?.close();
      await harness.close();
    }
  });

  it("the local SMTP server refuses a token of one app for another app's mailbox with 535 5.7.3, as Exchange does", async () => {
    const billingToken = await stack.tokenServer.issueToken({ appid: BILLING_CLIENT });
    for (const [user, expected] of [
      [BILLING_MAILBOX, /^235 /],
      [LOCAL_MAILBOX, /^535 5\.7\.3 Authentication unsuccessful/],
    ] as const) {
      const { client } = await RawSmtpClient.connect(stack.smtpServer.port);
      try {
        await client.command('EHLO relay.test');
        await client.startTls(stack.certs.caPem);
        await client.command('EHLO relay.test');
        assert.match(await client.command(`AUTH XOAUTH2 ${xoauth2(user, billingToken)}`), expected, user);
      } finally {
        client.close();
      }
    }
  });
});
