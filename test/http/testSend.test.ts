/**
 * POST /api/send through the registered handler (HttpRequest in, HttpResponseInit
 * out) against the local stack: Azurite for enqueueing, the Entra-shaped token
 * endpoint and the Exchange-shaped SMTP server for sending now.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../local/stack';
import { stepLabel } from '../../src/diagnostics/setupSteps';
import { getRelay } from '../../src/runtime';
import { httpSend } from '../../functions/httpSend';

const QUEUE = 'http-send-test';
const EXCHANGE_STAMP = '[AM0PR01CA0001.eurprd01.prod.exchangelabs.com 2026-11-30T10:00:00.000Z 08DD0000000000]';
let stack: LocalStack;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  // The handler uses the process's relay, built from the app settings on first use.
  Object.assign(process.env, stack.settings, { RELAY_QUEUE_NAME: QUEUE, MAIL_ALLOWED_FROM: 'boss@example.com' });
});

after(async () => {
  // Cleanup must not stop at a relay that failed to build (the tests have reported that already).
  await Promise.resolve()
    .then(() => getRelay().close())
    .catch(() => undefined);
  await stack?.close();
});

function post(body: unknown, query: Record<string, string> = {}): Promise<HttpResponseInit> {
  const string = typeof body === 'string' ? body : JSON.stringify(body);
  return httpSend(new HttpRequest({ method: 'POST', url: 'http://localhost/api/send', body: { string }, query }));
}

function json(response: HttpResponseInit): Record<string, any> {
  return response.jsonBody as Record<string, any>;
}

/** Nothing secret and no stack trace in an answer. */
function assertClean(response: HttpResponseInit): void {
  const text = JSON.stringify(response.jsonBody);
  assert.ok(!text.includes('eyJ'), 'no token');
  assert.ok(!text.includes(stack.clientSecret), 'no client secret');
  assert.ok(!/\bat .+\.js:\d+/.test(text) && !/"stack"/.test(text), 'no stack trace');
}

// First, while the pool has no connection yet: AUTH happens on the first connection only.
test('a provider failure answers with the classified reason and the setup step (535 5.7.139)', async () => {
  stack.smtpServer.failNext('auth', {
    code: 535,
    message: `5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. ${EXCHANGE_STAMP}`,
  });
  const response = await post({ to: ['someone@example.net'], subject: 'hello', text: 'hi' });
  assert.equal(response.status, 502);
  const body = json(response);
  assert.equal(body.status, 'failed');
  assert.equal(body.reason, 'smtp_auth_disabled');
  assert.equal(body.kind, 'configuration');
  assert.match(body.providerReply, /^535 5\.7\.139/);
  assert.match(body.remedy, /Authenticated SMTP/);
  assert.equal(body.diagnosis.diagnosis, 'smtp_auth_disabled');
  assert.ok(body.diagnosis.steps.includes(stepLabel('authenticatedSmtp')));
  assertClean(response);
});

test('sends now and answers with the Message-ID, the SMTP reply, the recipients and the time taken', async () => {
  const before = stack.smtpServer.received.length;
  stack.smtpServer.rejectRecipient('nobody@example.net', { code: 550, message: '5.1.1 RESOLVER.ADR.RecipNotFound; not found' });
  const response = await post({ to: ['someone@example.net', 'nobody@example.net'], subject: 'hello', text: 'hi' });
  assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
  const body = json(response);
  assert.equal(body.status, 'sent');
  assert.match(body.messageId, /^<[^>]+@[^>]+>$/);
  assert.match(body.smtpReply, /^250 2\.6\.0 /);
  assert.deepEqual(body.accepted, ['someone@example.net']);
  assert.deepEqual(body.rejected, ['nobody@example.net']);
  assert.ok(Number.isInteger(body.durationMs) && body.durationMs >= 0);
  assert.equal(stack.smtpServer.received.length, before + 1);
  assert.equal(stack.smtpServer.received.at(-1)?.envelope.mailFrom, LOCAL_MAILBOX);
  assertClean(response);
});

test('SendAsDenied (550 5.7.60) answers 422 with the SendAs step', async () => {
  stack.smtpServer.failNext('mail', { code: 550, message: `5.7.60 SMTP; Client does not have permissions to send as this sender ${EXCHANGE_STAMP}` });
  const response = await post({ from: 'boss@example.com', to: ['someone@example.net'], subject: 'hello', text: 'hi' });
  assert.equal(response.status, 422);
  const body = json(response);
  assert.equal(body.reason, 'send_as_denied');
  assert.ok(body.diagnosis.steps.includes(stepLabel('sendAs')));
  assert.match(body.remedy, /Add-RecipientPermission/);
  assertClean(response);
});

test('invalid input answers 400 with every problem listed, and nothing is sent', async () => {
  const before = stack.smtpServer.received.length;
  const response = await post({ to: ['not an address'], cc: 'x', subject: 42, attachments: [{ filename: 'a.txt' }] });
  assert.equal(response.status, 400);
  const body = json(response);
  assert.equal(body.status, 'invalid');
  assert.equal(body.reason, 'invalid_message');
  const paths = body.problems.map((problem: { path: string }) => problem.path);
  for (const path of ['$.to[0]', '$.subject']) assert.ok(paths.some((item: string) => item.startsWith(path)), `${path} in ${paths}`);
  assert.ok(body.problems.length >= 4, JSON.stringify(body.problems));
  assert.equal(stack.smtpServer.received.length, before);
});

test('a body that is not JSON answers 400', async () => {
  const response = await post('{"to": ["a@example.net"], ');
  assert.equal(response.status, 400);
  assert.equal(json(response).reason, 'invalid_json');
});

test('mode=enqueue puts the message on RELAY_QUEUE_NAME and answers 202 with the queue message id', async () => {
  const message = { id: 'http-enqueue-1', to: ['someone@example.net'], subject: 'queued', text: 'later' };
  const response = await post(message, { mode: 'enqueue' });
  assert.equal(response.status, 202, JSON.stringify(response.jsonBody));
  const body = json(response);
  assert.equal(body.status, 'queued');
  assert.equal(body.queue, QUEUE);
  const queue = new QueueClient(stack.settings.AzureWebJobsStorage, QUEUE);
  const peeked = await queue.peekMessages({ numberOfMessages: 32 });
  const found = peeked.peekedMessageItems.find((item) => item.messageId === body.queueMessageId);
  assert.ok(found, 'the answered id is on the queue');
  assert.deepEqual(JSON.parse(found.messageText), message);
});

test('mode=enqueue refuses what a queue message cannot hold (413), and bad input is refused before enqueueing', async () => {
  const big = await post({ to: ['someone@example.net'], subject: 'big', text: 'x'.repeat(70_000) }, { mode: 'enqueue' });
  assert.equal(big.status, 413);
  const invalid = await post({ to: [] }, { mode: 'enqueue' });
  assert.equal(invalid.status, 400);
});

test('an unknown mode and a GET are refused', async () => {
  assert.equal((await post({ to: ['a@example.net'] }, { mode: 'later' })).status, 400);
  const get = await httpSend(new HttpRequest({ method: 'GET', url: 'http://localhost/api/send' }));
  assert.equal(get.status, 405);
});
