/**
 * POST /api/send with several senders (RELAY_SENDERS), through the registered handler against the
 * local stack: the message chooses its sender as on the queue (its `sender`, or its `from`) and is
 * sent through that sender's own token and mailbox; anything else is sender_not_allowed, unsent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID, type LocalStack } from '../../../local/stack';
import { getRelay } from '../../../src/app/runtime';
import { httpSend } from '../../../functions/httpSend';

const BILLING_CLIENT = '5e4d0000-0000-4000-8000-0000000000d4';
const BILLING_MAILBOX = 'billing@example.com';
const billingSecret = `billing~${randomBytes(18).toString('base64url')}`;
let stack: LocalStack;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  stack.tokenServer.setClientSecret(BILLING_CLIENT, billingSecret);
  // Each app may sign in to its own mailbox only, as in Exchange Online.
  stack.smtpServer.grantMailboxes(LOCAL_CLIENT_ID, [LOCAL_MAILBOX]);
  stack.smtpServer.grantMailboxes(BILLING_CLIENT, [BILLING_MAILBOX]);
  const senders = [
    {
      id: 'billing',
      mailbox: BILLING_MAILBOX,
      allowedFrom: ['invoices@example.com'],
      clientId: BILLING_CLIENT,
      credential: { secretSetting: 'BILLING_SECRET' },
      tenant: LOCAL_TENANT_ID,
      authorityHost: stack.tokenServer.url,
    },
  ];
  Object.assign(process.env, stack.settings, { RELAY_QUEUE_NAME: 'http-send-senders', RELAY_SENDERS: JSON.stringify(senders), BILLING_SECRET: billingSecret });
});

after(async () => {
  await Promise.resolve()
    .then(() => getRelay().close())
    .catch(() => undefined);
  await stack?.close();
});

function post(body: unknown): Promise<HttpResponseInit> {
  return httpSend(new HttpRequest({ method: 'POST', url: 'http://localhost/api/send', body: { string: JSON.stringify(body) } }));
}

function json(response: HttpResponseInit): Record<string, any> {
  return response.jsonBody as Record<string, any>;
}

test("a message naming its sender, or sent from one of its From addresses, goes through that sender's mailbox and token", async () => {
  for (const [choice, from] of [
    [{ sender: 'billing' }, BILLING_MAILBOX],
    [{ from: 'Invoices <invoices@example.com>' }, 'invoices@example.com'],
  ] as const) {
    const before = stack.smtpServer.received.length;
    const response = await post({ ...choice, to: ['someone@example.net'], subject: 'invoice', text: 'hi' });
    assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
    assert.equal(json(response).sender, 'billing');
    assert.equal(stack.smtpServer.received.length, before + 1);
    const received = stack.smtpServer.received.at(-1)!;
    assert.equal(received.user, BILLING_MAILBOX);
    assert.equal(received.envelope.mailFrom, from);
  }
  assert.ok((stack.tokenServer.requestsByClient.get(BILLING_CLIENT) ?? 0) >= 1, "billing's own app registration was asked for the token");
});

test('a message without a choice goes through the default sender', async () => {
  const response = await post({ to: ['someone@example.net'], subject: 'hello', text: 'hi' });
  assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
  assert.equal(json(response).sender, 'default');
  assert.equal(stack.smtpServer.received.at(-1)!.user, LOCAL_MAILBOX);
});

test('an unknown sender, a From no sender owns, or a From of another sender answers 400 sender_not_allowed and nothing is sent', async () => {
  const before = stack.smtpServer.received.length;
  for (const choice of [{ sender: 'payroll' }, { from: 'ceo@example.com' }, { sender: 'billing', from: LOCAL_MAILBOX }]) {
    const response = await post({ ...choice, to: ['someone@example.net'], subject: 'hello', text: 'hi' });
    assert.equal(response.status, 400, JSON.stringify(choice));
    assert.equal(json(response).reason, 'sender_not_allowed', JSON.stringify(response.jsonBody));
  }
  assert.equal(stack.smtpServer.received.length, before);
});
