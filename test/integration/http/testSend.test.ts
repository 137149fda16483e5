/**
 * POST /api/send through the registered handler (HttpRequest in, HttpResponseInit
 * out) against the local stack: Azurite for enqueueing, the Entra-shaped token
 * endpoint and the Exchange-shaped SMTP server for sending now.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { HttpRequest, type HttpRequestInit, type HttpResponseInit } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { simpleParser } from 'mailparser';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../../local/stack';
import { stepLabel } from '../../../src/core/setupSteps';
import { getRelay } from '../../../src/app/runtime';
import { httpSend } from '../../../functions/httpSend';

const QUEUE = 'http-send-test';
const EXCHANGE_STAMP = '[AM0PR01CA0001.eurprd01.prod.exchangelabs.com 2026-11-30T10:00:00.000Z 08DD0000000000]';
let stack: LocalStack;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  // The handler uses the process's relay, built from the app settings on first use.
  // Limits small enough to reach: 1 MiB of attachments, 3 recipients.
  Object.assign(process.env, stack.settings, {
    RELAY_QUEUE_NAME: QUEUE,
    MAIL_ALLOWED_FROM: 'boss@example.com',
    MAIL_MAX_ATTACHMENTS_MB: '1',
    MAIL_MAX_RECIPIENTS: '3',
  });
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
  for (const path of ['$.to[0]', '$.subject'])
    assert.ok(
      paths.some((item: string) => item.startsWith(path)),
      `${path} in ${paths}`,
    );
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

const ATTACHMENT_CONTAINER = 'outbound-mail-attachments';
const blobs = () => BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage);

test('a blob attachment is sent as on the queue path: fetched from the attachment container, byte for byte', async () => {
  const container = blobs().getContainerClient(ATTACHMENT_CONTAINER);
  await container.createIfNotExists();
  const bytes = randomBytes(300_000);
  await container.getBlockBlobClient('http/report.bin').uploadData(bytes);
  const before = stack.smtpServer.received.length;
  const response = await post({ to: 'someone@example.net', text: 'see attachment', attachments: [{ filename: 'report.bin', blob: 'http/report.bin' }] });
  assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
  assert.equal(stack.smtpServer.received.length, before + 1);
  const parsed = await simpleParser(stack.smtpServer.received.at(-1)!.raw);
  assert.ok(parsed.attachments[0]!.content.equals(bytes));

  const missing = await post({ to: 'someone@example.net', text: 'x', attachments: [{ filename: 'gone.pdf', blob: 'http/gone.pdf' }] });
  assert.equal(missing.status, 422);
  assert.equal(json(missing).reason, 'attachment_not_found');
  assertClean(missing);
});

test('a blob name that leaves the attachment container answers 400 at $.attachments[0].blob, and nothing is sent', async () => {
  const ledger = blobs().getContainerClient('outbound-mail-ledger');
  await ledger.createIfNotExists();
  await ledger.getBlockBlobClient('x').uploadData(Buffer.from('LEDGER-MARKER'));
  const before = stack.smtpServer.received.length;
  for (const blob of ['\u2028/../../outbound-mail-ledger/x', '../outbound-mail-ledger/x', '%2e%2e/outbound-mail-ledger/x']) {
    for (const query of [{}, { mode: 'enqueue' }] as Array<Record<string, string>>) {
      const response = await post({ to: 'someone@example.net', text: 'x', attachments: [{ filename: 'x', blob }] }, query);
      assert.equal(response.status, 400, `${JSON.stringify(blob)} ${JSON.stringify(query)}: ${JSON.stringify(response.jsonBody)}`);
      assert.equal(json(response).reason, 'invalid_message');
      assert.equal(json(response).problems[0].path, '$.attachments[0].blob');
    }
  }
  assert.equal(stack.smtpServer.received.length, before);
});

test('attachments beyond MAIL_MAX_ATTACHMENTS_MB answer 422 message_too_large, and nothing is sent', async () => {
  const before = stack.smtpServer.received.length;
  const inline = Buffer.alloc(2 ** 20 + 1, 7).toString('base64');
  const response = await post({ to: 'someone@example.net', text: 'x', attachments: [{ filename: 'big.bin', content: inline }] });
  assert.equal(response.status, 422, JSON.stringify(response.jsonBody).slice(0, 300));
  assert.equal(json(response).reason, 'message_too_large');
  assert.match(json(response).message, /MAIL_MAX_ATTACHMENTS_MB/);
  assert.equal(stack.smtpServer.received.length, before);
});

test('more recipients than MAIL_MAX_RECIPIENTS answer 400 too_many_recipients, as on the queue path', async () => {
  const response = await post({ to: ['a@example.net', 'b@example.net'], cc: ['c@example.net', 'd@example.net'], text: 'x' });
  assert.equal(response.status, 400);
  assert.equal(json(response).reason, 'too_many_recipients');
});

/**
 * A request whose body streams, as the host hands it over with HTTP streams enabled
 * (the library's createStreamRequest builds the same): `pulled` counts what was read.
 */
function streamingPost(totalBytes: number, headers: Record<string, string> = {}, query = ''): { request: HttpRequest; pulled: () => number } {
  let pulled = 0;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  async function* chunks() {
    yield Buffer.from('{"to":"someone@example.net","text":"');
    pulled += 37;
    while (pulled < totalBytes) {
      pulled += chunk.length;
      yield chunk;
    }
    yield Buffer.from('"}');
  }
  const nativeRequest = new Request(`http://localhost/api/send${query}`, { method: 'POST', body: Readable.from(chunks()), headers, duplex: 'half' });
  return { request: new HttpRequest({ nativeRequest } as unknown as HttpRequestInit), pulled: () => pulled };
}

test('a body over the limit answers 413 having read no more than the limit, whatever Content-Length says or omits', async () => {
  // The documented limit: a queue message (64 KiB) plus MAIL_MAX_ATTACHMENTS_MB (here 1 MiB) in base64.
  const limit = 64 * 1024 + Math.ceil(2 ** 20 / 3) * 4;
  const before = stack.smtpServer.received.length;
  for (const headers of [{}, { 'content-length': '100' }] as Array<Record<string, string>>) {
    const { request, pulled } = streamingPost(20 * limit, headers);
    const response = await httpSend(request);
    assert.equal(response.status, 413, `${JSON.stringify(headers)}: ${JSON.stringify(response.jsonBody).slice(0, 300)}`);
    assert.equal(json(response).reason, 'message_too_large');
    assert.match(json(response).problems[0].problem, /MAIL_MAX_ATTACHMENTS_MB/);
    assert.ok(pulled() < limit + 8 * 64 * 1024, `read ${pulled()} bytes of a ${20 * limit} byte body (limit ${limit})`);
  }
  // A declared length over the limit is refused before anything is read.
  const declared = streamingPost(20 * limit, { 'content-length': String(20 * limit) });
  const refused = await httpSend(declared.request);
  assert.equal(refused.status, 413);
  assert.ok(declared.pulled() < 8 * 64 * 1024, `read ${declared.pulled()} bytes`);

  // mode=enqueue stops at what a queue message holds.
  const queued = streamingPost(10 * 64 * 1024, {}, '?mode=enqueue');
  const tooBig = await httpSend(queued.request);
  assert.equal(tooBig.status, 413);
  assert.equal(json(tooBig).reason, 'too_large_for_queue');
  assert.ok(queued.pulled() < 64 * 1024 + 8 * 64 * 1024, `read ${queued.pulled()} bytes`);
  assert.equal(stack.smtpServer.received.length, before);
});

test('a streamed body within the limit is read whole and sent', async () => {
  const before = stack.smtpServer.received.length;
  const { request } = streamingPost(200 * 1024);
  const response = await httpSend(request);
  assert.equal(response.status, 200, JSON.stringify(response.jsonBody).slice(0, 300));
  assert.equal(stack.smtpServer.received.length, before + 1);
});
