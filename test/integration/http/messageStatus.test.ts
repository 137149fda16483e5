/**
 * GET /api/messages/{id} through the registered handler (HttpRequest in,
 * HttpResponseInit out) on Azurite: a delivered, a dead-lettered, a retrying
 * and a refused message, each answered from the ledger with delivery metadata
 * only; an unknown id is a 404 with a hint, a malformed one a 400 that reaches
 * no storage; an id shaped like a path reaches the ledger container only, as a
 * hashed blob name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { DEVSTORE_ACCOUNT } from '../../../local/azurite';
import { messageStatus } from '../../../functions/messageStatus';
import { ledgerBlobName } from '../../../src/delivery/ledger';
import { remedyText } from '../../../src/core/diagnoses';
import { StorageTap } from '../../support/storageTap';
import { BODY, REFUSED_RECIPIENT, runStatusScenario, SCENARIO_IDS, SUBJECT, type StatusScenario } from '../../support/statusScenario';

const NAME = 'status-http';
let stack: LocalStack;
let scenario: StatusScenario;
let tap: StorageTap;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  scenario = await runStatusScenario(stack, NAME);
  tap = await StorageTap.start(stack.azurite.blobPort);
  // The handler reads the storage settings of the process (and only those): no OAUTH2_*, no SMTP_*.
  for (const name of Object.keys(process.env)) if (/^(OAUTH2_|SMTP_|MAIL_)/.test(name)) delete process.env[name];
  Object.assign(process.env, {
    AzureWebJobsStorage: tap.connectionString(stack.settings.AzureWebJobsStorage),
    RELAY_LEDGER_CONTAINER: `${NAME}-ledger`,
  });
});

after(async () => {
  await scenario?.harness.close();
  await tap?.close();
  await stack?.close();
});

function get(id: string, method = 'GET'): Promise<HttpResponseInit> {
  return messageStatus(new HttpRequest({ method, url: `http://localhost/api/messages/${encodeURIComponent(id)}`, params: { id } }));
}

function body(response: HttpResponseInit): Record<string, any> {
  return response.jsonBody as Record<string, any>;
}

/** Nothing of the message's content or its recipients in an answer. */
function assertMetadataOnly(response: HttpResponseInit): void {
  const text = JSON.stringify(response.jsonBody);
  for (const secret of [SUBJECT, BODY, REFUSED_RECIPIENT, 'reader@example.net', 'later@example.net', 'ceo@elsewhere.example', stack.clientSecret]) {
    assert.ok(!text.includes(secret), `the answer holds no "${secret}": ${text}`);
  }
  assert.ok(!/"(accepted|rejected|owner|digest|to|subject|text)"/.test(text), text);
}

test('a delivered message: state sent, its Message-ID and the server reply, no recipients', async () => {
  const response = await get(SCENARIO_IDS.delivered);
  assert.equal(response.status, 200, JSON.stringify(response.jsonBody));
  const status = body(response);
  assert.equal(status.id, SCENARIO_IDS.delivered);
  assert.equal(status.matchedBy, 'id');
  assert.equal(status.state, 'sent');
  assert.equal(status.sender, 'default', 'the sender it was routed to');
  assert.equal(status.attempts, 1);
  assert.match(status.messageId, /^<.+@.+>$/);
  assert.match(status.smtpReply, /^250 /);
  assert.ok(Date.parse(status.firstEnqueuedAt) <= Date.parse(status.sentAt));
  assert.equal(status.updatedAt, status.sentAt);
  assert.equal(response.headers && (response.headers as Record<string, string>)['cache-control'], 'no-store');
  assertMetadataOnly(response);
});

test('a dead-lettered message: the reason, the catalogue remedy and the dead-letter record id', async () => {
  const response = await get(SCENARIO_IDS.deadLettered);
  assert.equal(response.status, 200);
  const status = body(response);
  assert.equal(status.state, 'dead-lettered');
  assert.equal(status.lastReason, 'recipients_rejected');
  assert.match(status.deadLetterRecordId, /^[0-9a-f-]{36}$/);
  const records = await scenario.harness.deadLetterQueue.peekMessages({ numberOfMessages: 32 });
  const ids = records.peekedMessageItems.map((item) => JSON.parse(item.messageText).recordId);
  assert.ok(ids.includes(status.deadLetterRecordId), 'the record id names a record on the dead-letter queue');
  assert.ok(status.deadLetteredAt);
  assertMetadataOnly(response);
});

test('a message waiting for its retry: state retry, the reason and its remedy, one attempt so far', async () => {
  const response = await get(SCENARIO_IDS.retrying);
  assert.equal(response.status, 200);
  const status = body(response);
  assert.equal(status.state, 'retry');
  assert.equal(status.lastReason, 'smtp_throttled', 'Exchange words 451 4.3.2 as throttling');
  assert.equal(status.remedy, remedyText('smtp_throttled'));
  assert.equal(status.attempts, 1);
  assert.equal(status.sentAt, undefined);
  assertMetadataOnly(response);
});

test('a message refused before it was read is found by its queue message id, not by the id it carried', async () => {
  const byId = await get(SCENARIO_IDS.refused);
  assert.equal(byId.status, 404);
  const response = await get(scenario.refusedQueueMessageId);
  assert.equal(response.status, 200);
  const status = body(response);
  assert.equal(status.matchedBy, 'queueMessageId');
  assert.equal(status.state, 'dead-lettered');
  assert.equal(status.lastReason, 'sender_not_allowed');
  assert.equal(status.sender, undefined, 'routed to no sender');
  assert.equal(status.remedy, remedyText('sender_not_allowed'));
  assertMetadataOnly(response);
});

test('an unknown id: 404 with the error, the id and a hint', async () => {
  const response = await get('no-such-message');
  assert.equal(response.status, 404);
  assert.equal(body(response).error, 'not_found');
  assert.equal(body(response).id, 'no-such-message');
  assert.match(body(response).hint, /queue message id/);
});

test('malformed ids are refused with 400 before any storage request', async () => {
  tap.reset();
  for (const id of ['', 'x'.repeat(201), 'line\nbreak', 'tab\there', 'nul\u0000', 'caf\u00e9', '\u202eevil', 'snow\u2603']) {
    const response = await get(id);
    assert.equal(response.status, 400, `${JSON.stringify(id)}: ${JSON.stringify(response.jsonBody)}`);
    assert.equal(body(response).error, 'invalid_id');
  }
  assert.deepEqual(tap.requests, [], 'no request reached storage');
});

test('ids shaped like paths or URLs reach the ledger container only, as hashed blob names', async () => {
  tap.reset();
  const hostile = [
    '../../other-container/blob',
    '..%2F..%2Fx',
    `/${DEVSTORE_ACCOUNT}/${NAME}-deadletter/x`,
    'a?comp=list&restype=container',
    'x'.repeat(200),
    '%00',
    ' ',
  ];
  for (const id of hostile) {
    const response = await get(id);
    assert.equal(response.status, 404, `${id}: ${JSON.stringify(response.jsonBody)}`);
  }
  assert.ok(tap.requests.length > 0);
  const allowed = new Set(hostile.flatMap((id) => [ledgerBlobName(`id:${id}`), ledgerBlobName(`queue:${id}`)]));
  for (const request of tap.requests) {
    const path = request.url.split('?')[0]!;
    const prefix = `/${DEVSTORE_ACCOUNT}/${NAME}-ledger/`;
    assert.ok(path.startsWith(prefix), `outside the ledger container: ${request.method} ${request.url}`);
    assert.ok(allowed.has(path.slice(prefix.length)), `not a hashed ledger name: ${request.url}`);
    assert.equal(request.method, 'GET', 'reads only');
  }
});

test('storage settings that cannot be read: 503 with a hint, nothing of the problem itself', async () => {
  const before = process.env.RELAY_LEDGER_CONTAINER;
  process.env.RELAY_LEDGER_CONTAINER = 'Not_A_Container';
  try {
    const response = await get(SCENARIO_IDS.delivered);
    assert.equal(response.status, 503);
    assert.equal(body(response).error, 'ledger_unavailable');
    assert.ok(!JSON.stringify(response.jsonBody).includes('Not_A_Container'));
  } finally {
    process.env.RELAY_LEDGER_CONTAINER = before;
  }
  assert.equal((await get(SCENARIO_IDS.delivered)).status, 200, 'answers again once the setting is fixed');
});

test('only GET', async () => {
  const response = await get(SCENARIO_IDS.delivered, 'DELETE');
  assert.equal(response.status, 405);
});
