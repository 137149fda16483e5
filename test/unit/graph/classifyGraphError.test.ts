import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyGraphError, retryAfterSeconds, type GraphOperation } from '../../../src/graph/classifyGraphError';

const answer = (status: number, code?: string, headers: Record<string, string> = {}) => ({
  status,
  headers: { 'request-id': 'r-1', ...headers },
  text: code === undefined ? '' : JSON.stringify({ error: { code, message: `${code} said Graph` } }),
});
const classify = (status: number, code?: string, operation: GraphOperation = 'sendMail', headers?: Record<string, string>) =>
  classifyGraphError(answer(status, code, headers), operation);

describe('classifyGraphError', () => {
  it('names the permission, consent and access-policy steps for ErrorAccessDenied, and Mail.ReadWrite for drafts', () => {
    const send = classify(403, 'ErrorAccessDenied');
    assert.deepEqual([send.reason, send.kind, send.diagnosis], ['graph_access_denied', 'configuration', 'graph_access_denied']);
    assert.match(send.remedy!, /Mail\.Send/);
    assert.match(send.remedy!, /admin consent/);
    assert.match(send.remedy!, /RBAC for Applications/);
    assert.match(send.remedy!, /application access policy/);
    const draft = classify(403, 'ErrorAccessDenied', 'uploadSession');
    assert.equal(draft.diagnosis, 'graph_draft_denied');
    assert.match(draft.remedy!, /Mail\.ReadWrite/);
    assert.match(draft.message, /Mail\.ReadWrite/);
  });

  it('tells the mailbox cases apart: not enabled for REST, unknown user', () => {
    assert.equal(classify(404, 'MailboxNotEnabledForRESTAPI').reason, 'graph_mailbox_not_enabled');
    assert.equal(classify(404, 'ErrorInvalidUser').reason, 'graph_mailbox_not_found');
    assert.equal(classify(404, 'ResourceNotFound', 'draft').reason, 'graph_mailbox_not_found');
  });

  it('makes recipients and size permanent, with reasons the dead letters share with SMTP', () => {
    assert.deepEqual([classify(400, 'ErrorInvalidRecipients').reason, classify(400, 'ErrorInvalidRecipients').kind], ['recipients_rejected', 'permanent']);
    assert.deepEqual([classify(400, 'ErrorMessageSizeExceeded').reason, classify(413).kind], ['message_too_large', 'permanent']);
    assert.equal(classify(413).reason, 'message_too_large');
  });

  it('retries throttling and unavailability, honouring Retry-After', () => {
    const throttled = classify(429, 'MailboxConcurrency', 'sendMail', { 'retry-after': '17' });
    assert.deepEqual([throttled.reason, throttled.kind, throttled.retryAfterSeconds], ['graph_throttled', 'transient', 17]);
    assert.equal(classify(429, 'ApplicationThrottled').retryAfterSeconds, 30);
    for (const status of [500, 502, 503, 504]) assert.deepEqual([classify(status).reason, classify(status).kind], ['graph_unavailable', 'transient']);
    assert.equal(classify(503, 'ServiceUnavailable', 'send', { 'retry-after': '5' }).retryAfterSeconds, 5);
  });

  it('keeps the reply (status, code, request id) and a 401 as a token refusal', () => {
    const refused = classify(401, 'InvalidAuthenticationToken');
    assert.equal(refused.reason, 'graph_token_rejected');
    assert.match(refused.providerReply!, /^HTTP 401 InvalidAuthenticationToken .*request-id r-1/);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterSeconds('120'), 120);
    assert.equal(retryAfterSeconds(new Date(Date.UTC(2030, 0, 1, 0, 1)).toUTCString(), Date.UTC(2030, 0, 1)), 60);
    assert.equal(retryAfterSeconds('soon'), undefined);
    assert.equal(retryAfterSeconds(undefined), undefined);
  });
});
