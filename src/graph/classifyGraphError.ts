/**
 * Microsoft Graph's answers in the failure vocabulary: by the error code Graph names
 * ({ error: { code, message } }), then by the HTTP status. Permissions, the mailbox,
 * the recipients and the size are the operator's or the message's; throttling and
 * unavailability are retried, with Retry-After honoured.
 */
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { redact } from '../core/redact';
import type { GraphAnswer } from './graphRequest';

/** Which call failed: creating drafts and upload sessions need Mail.ReadWrite besides Mail.Send. */
export type GraphOperation = 'sendMail' | 'draft' | 'uploadSession' | 'attachment' | 'upload' | 'send';

/** A 429 or 503 without Retry-After waits this long (Graph's guidance: back off, then retry). */
const DEFAULT_RETRY_SECONDS = 30;
/** Graph's error code and message, when the answer is Graph's JSON error. */
export function graphErrorOf(answer: Pick<GraphAnswer, 'text'>): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof parsed.error?.code === 'string' ? parsed.error.code : undefined;
    const message = typeof parsed.error?.message === 'string' ? parsed.error.message : undefined;
    return { code, message };
  } catch {
    return {};
  }
}

/** Retry-After in seconds (a number of seconds, or an HTTP date). */
export function retryAfterSeconds(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** The provider reply as logs and dead letters show it: status, Graph's code and message, the request id; bounded, redacted. */
export function graphReply(answer: GraphAnswer): string {
  const { code, message } = graphErrorOf(answer);
  const requestId = answer.headers['request-id'] ?? answer.headers['client-request-id'];
  const parts = [`HTTP ${answer.status}`, code, message?.slice(0, 300)].filter(Boolean).join(' ');
  return redact(requestId ? `${parts} (request-id ${String(requestId).slice(0, 64)})` : parts);
}

export function classifyGraphError(answer: GraphAnswer, operation: GraphOperation): RelayError {
  const { code } = graphErrorOf(answer);
  const providerReply = graphReply(answer);
  const status = answer.status;
  const make = (text: string, details: ConstructorParameters<typeof RelayError>[1]) =>
    new RelayError(`Microsoft Graph ${operation}: ${text}`, { providerReply, ...details });

  if (code === 'MailboxNotEnabledForRESTAPI' || code === 'MailboxNotSupportedForRESTAPI') {
    return make('the mailbox is not enabled for Graph (not in Exchange Online, or unlicensed)', {
      reason: 'graph_mailbox_not_enabled',
      kind: 'configuration',
      ...advice('graph_mailbox_not_enabled'),
    });
  }
  if (code === 'ErrorInvalidRecipients') {
    return make('Graph refused the recipients', { reason: 'recipients_rejected', kind: 'permanent', ...advice('graph_recipients_invalid') });
  }
  if (code === 'ErrorMessageSizeExceeded' || status === 413) {
    return make('the message is too large', { reason: 'message_too_large', kind: 'permanent', ...advice('graph_message_too_large') });
  }
  if (status === 401) {
    return make('Graph refused the access token', { reason: 'graph_token_rejected', kind: 'configuration', ...advice('graph_token_rejected') });
  }
  if (status === 403 || code === 'ErrorAccessDenied' || code === 'Authorization_RequestDenied') {
    const drafts = operation === 'draft' || operation === 'uploadSession' || operation === 'attachment';
    return make(
      drafts
        ? 'access denied creating a draft or an upload session (messages over 4 MB need Mail.ReadWrite besides Mail.Send)'
        : 'access denied to the mailbox (Mail.Send, admin consent, or the mailbox scope of the permission)',
      { reason: 'graph_access_denied', kind: 'configuration', ...advice(drafts ? 'graph_draft_denied' : 'graph_access_denied') },
    );
  }
  if (code === 'ErrorInvalidUser' || (status === 404 && operation === 'sendMail') || (status === 404 && code === 'ResourceNotFound')) {
    return make('Graph knows no such mailbox', { reason: 'graph_mailbox_not_found', kind: 'configuration', ...advice('graph_mailbox_not_found') });
  }
  if (status === 429) {
    return make('Graph is throttling the app or the mailbox', {
      reason: 'graph_throttled',
      kind: 'transient',
      retryAfterSeconds: retryAfterSeconds(answer.headers['retry-after']) ?? DEFAULT_RETRY_SECONDS,
      ...advice('graph_throttled'),
    });
  }
  if (status >= 500 || status === 0) {
    const wait = retryAfterSeconds(answer.headers['retry-after']);
    return make('Graph is unavailable', {
      reason: 'graph_unavailable',
      kind: 'transient',
      ...(wait === undefined ? {} : { retryAfterSeconds: wait }),
      ...advice('graph_unavailable'),
    });
  }
  // An upload session that expired or lost its draft (404 on the upload URL, 409/416 ranges): send it again from the start.
  if (operation === 'upload' || status === 409 || status === 412) {
    return make('the upload was refused; the message is sent again later', { reason: 'graph_unavailable', kind: 'transient', ...advice('graph_unavailable') });
  }
  return make('Graph refused the request', { reason: 'graph_request_rejected', kind: 'permanent', ...advice('graph_request_rejected') });
}
