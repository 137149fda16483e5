/**
 * Turns a nodemailer error into a RelayError: which step failed, whether it is
 * worth retrying, the server's own reply, and the setup step that fixes it.
 *
 * Reply codes and enhanced status codes decide; texts are only consulted for
 * the providers' named conditions: Exchange Online's (SendAsDenied,
 * SubmissionQuotaExceeded, STOREDRV, basic authentication retired) and
 * Postfix's "Sender address rejected". Partial success (some recipients
 * rejected) never gets here: nodemailer resolves, and the sender reports `rejected`.
 */
import { RelayError, isRelayError, type FailureKind, type ReasonCode } from '../core/errors';
import { redact } from '../core/redact';
import { describeNetworkFailure, networkFailureOf } from '../transport/networkFailure';
import { advice, type DiagnosisId } from '../core/diagnoses';

/** The fields nodemailer puts on its errors (all optional: API errors have no reply). */
export interface SmtpErrorLike {
  message?: string;
  code?: string;
  /** The system code when nodemailer replaced it with its own (ECONNREFUSED under ESOCKET). */
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejected?: unknown[];
  rejectedErrors?: Array<{ recipient?: string; response?: string; responseCode?: number }>;
}

export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code, e.g. 5.7.3. */
  enhanced?: string;
  /** The whole reply, all lines. */
  text: string;
}

interface Verdict {
  reason: ReasonCode;
  kind: FailureKind;
  message: string;
  /** The diagnosis list's entry, the one place that names the setup steps; the remedy is its text. */
  diagnosis?: DiagnosisId;
  retryAfterSeconds?: number;
}

/** Parses an SMTP reply ("535 5.7.3 Authentication unsuccessful", multi-line allowed). */
export function parseSmtpReply(response: unknown): SmtpReply | undefined {
  if (typeof response !== 'string') return undefined;
  const match = /^(\d{3})(?:[ -](\d\.\d{1,3}\.\d{1,3})\b)?/.exec(response.trim());
  if (!match) return undefined;
  return { code: Number(match[1]), enhanced: match[2], text: response.trim() };
}

/**
 * Exchange Online blocks a mailbox past its daily recipient limit for up to 24 hours. The
 * relay comes back once an hour (and pauses the mailbox meanwhile, src/throttle), so the
 * block is noticed to have lifted within the hour without a retry every few minutes.
 */
export const QUOTA_RETRY_SECONDS = 3600;

/** Verdicts for Exchange Online's named replies and the families that mean the same at any step. */
function namedReplyVerdict(reply: SmtpReply, command: string): Verdict | undefined {
  const { code, enhanced, text } = reply;
  // "550 5.7.30 Basic authentication is not supported for Client Submission": no password works any more.
  if (code >= 500 && (enhanced === '5.7.30' || /Basic authentication is not supported/i.test(text))) {
    return {
      reason: 'basic_auth_unsupported',
      kind: 'configuration',
      message: 'the server no longer accepts a password (basic authentication)',
      diagnosis: 'basic_auth_unsupported',
    };
  }
  if (code === 535) {
    if (enhanced === '5.7.139' || /\b5\.7\.139\b/.test(text)) {
      return {
        reason: 'smtp_auth_disabled',
        kind: 'configuration',
        message: 'SMTP AUTH is disabled for the mailbox or the tenant',
        diagnosis: 'smtp_auth_disabled',
      };
    }
    return { reason: 'smtp_auth_rejected', kind: 'configuration', message: 'the server rejected the authentication', diagnosis: 'smtp_auth_rejected' };
  }
  if (code === 530 && /STARTTLS/i.test(text)) {
    return { reason: 'smtp_tls_failed', kind: 'configuration', message: 'the server requires STARTTLS first', diagnosis: 'smtp_tls_failed' };
  }
  if (code === 530 || enhanced === '5.7.57') {
    return {
      reason: 'smtp_auth_not_offered',
      kind: 'configuration',
      message: 'the server did not accept the session as authenticated',
      diagnosis: 'smtp_auth_not_offered',
    };
  }
  if (command.startsWith('AUTH')) {
    if ([502, 503, 504].includes(code)) {
      return {
        reason: 'smtp_auth_not_offered',
        kind: 'configuration',
        message: 'the server does not support this authentication',
        diagnosis: 'smtp_auth_not_offered',
      };
    }
    if (code >= 500) {
      return { reason: 'smtp_auth_rejected', kind: 'configuration', message: 'the server rejected the authentication', diagnosis: 'smtp_auth_rejected' };
    }
  }
  const sendAs = sendAsVerdict(reply);
  if (sendAs) return sendAs;
  // Exchange Online's throttling replies: connection/thread limit, rate limits, "server busy".
  if (code === 432 || code === 452 || enhanced === '4.3.2' || ((code === 421 || code === 451) && enhanced?.startsWith('4.7.'))) {
    return { reason: 'smtp_throttled', kind: 'transient', message: 'the server is throttling this mailbox', diagnosis: 'smtp_throttled' };
  }
  // Before the logon rule: these STOREDRV texts name the mailbox too.
  if (/SubmissionQuotaExceeded/i.test(text) || (code === 554 && enhanced === '5.2.0' && /quota/i.test(text))) {
    return {
      reason: 'quota_exceeded',
      kind: 'transient',
      message: 'the mailbox reached its daily sending limit and may not send for up to 24 hours',
      diagnosis: 'quota_exceeded',
      retryAfterSeconds: QUOTA_RETRY_SECONDS,
    };
  }
  // "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException…": the sending mailbox, not a
  // recipient's (a 5.2.2 at RCPT TO without these words is about the recipient).
  if (enhanced === '5.2.2' && /STOREDRV\.Submission|QuotaExceededException/i.test(text)) {
    return {
      reason: 'mailbox_full',
      kind: 'configuration',
      message: 'the sending mailbox is full (Sent Items keeps a copy of every message)',
      diagnosis: 'mailbox_full',
    };
  }
  if (code === 430 || (/STOREDRV/i.test(text) && /logon|mailbox/i.test(text) && code >= 400)) {
    return {
      reason: 'mailbox_logon_failed',
      kind: 'configuration',
      message: "Exchange could not log on to the sender's mailbox",
      diagnosis: 'mailbox_logon_failed',
    };
  }
  if ((code === 552 && command !== 'RCPT TO') || enhanced === '5.3.4' || enhanced === '5.2.3') {
    return { reason: 'message_too_large', kind: 'permanent', message: 'the message is too large for the server', diagnosis: 'message_too_large' };
  }
  return undefined;
}

/** Exchange Online's SendAsDenied: `550 5.7.60` at MAIL FROM, `554 5.2.252 SendAsDenied; … not allowed to send as …` after DATA. */
function sendAsVerdict({ enhanced, text }: SmtpReply): Verdict | undefined {
  if (enhanced === '5.7.60' || enhanced === '5.2.252' || /SendAsDenied/i.test(text)) {
    return { reason: 'send_as_denied', kind: 'permanent', message: 'the mailbox may not send as this From address', diagnosis: 'send_as_denied' };
  }
  return undefined;
}

/**
 * A refusal about the sender, whatever command it answered: Postfix refuses a sender its
 * login does not own at every RCPT TO (reject_sender_login_mismatch under smtpd_delay_reject),
 * others at MAIL FROM or DATA. Texts are Postfix's ("<addr>: Sender address rejected: …") and
 * Gmail's; enhanced codes are RFC 3463's bad sender mailbox address (X.1.7, e.g. Gmail's
 * "553 5.1.7 The sender address … is not a valid RFC 5321 address") and bad sender system address (X.1.8).
 */
function senderVerdict(reply: SmtpReply): Verdict | undefined {
  const { code, enhanced, text } = reply;
  const sendAs = sendAsVerdict(reply);
  if (sendAs) return sendAs;
  if (code < 500) return undefined;
  if (/Sender address rejected: not logged in\b(?! as owner)/i.test(text)) {
    return {
      reason: 'smtp_auth_not_offered',
      kind: 'configuration',
      message: 'the server did not take the session as authenticated',
      diagnosis: 'smtp_auth_not_offered',
    };
  }
  if (/Sender address rejected: not (?:owned by user|logged in as owner)/i.test(text)) {
    return {
      reason: 'sender_rejected',
      kind: 'permanent',
      message: 'the server does not let this login send as the From address',
      diagnosis: 'sender_not_owned',
    };
  }
  if (enhanced === '5.1.7' || enhanced === '5.1.8' || /Sender address rejected: (?:Domain not found|need fully-qualified address|Malformed)/i.test(text)) {
    return { reason: 'sender_rejected', kind: 'permanent', message: 'the server refused the sender address', diagnosis: 'sender_address_invalid' };
  }
  // Gmail's SMTP relay: "550 5.7.0 Mail Sending denied" (the sender account is disabled or not in the domain).
  if (/Sender address rejected|Mail Sending denied/i.test(text)) {
    return { reason: 'sender_rejected', kind: 'permanent', message: 'the server refused the sender', diagnosis: 'sender_refused' };
  }
  return undefined;
}

function recipientsVerdict(error: SmtpErrorLike, reply: SmtpReply | undefined): Verdict {
  const replies = (error.rejectedErrors ?? [])
    .map((item) => parseSmtpReply(item.response) ?? (typeof item.responseCode === 'number' ? { code: item.responseCode, text: '' } : undefined))
    .filter((parsed): parsed is SmtpReply => parsed !== undefined);
  if (replies.length === 0 && reply) replies.push(reply);
  // Every recipient refused for the same reason about the sender: it is the sender that is refused.
  const sender = replies.map(senderVerdict);
  if (sender.length > 0 && sender.every((verdict) => verdict && verdict.diagnosis === sender[0]!.diagnosis)) return sender[0]!;
  const codes = replies.map((parsed) => parsed.code);
  if (codes.length > 0 && codes.every((code) => code >= 500)) {
    return { reason: 'recipients_rejected', kind: 'permanent', message: 'the server rejected every recipient' };
  }
  return { reason: 'smtp_transient_failure', kind: 'transient', message: 'the server deferred every recipient' };
}

function replyVerdict(reply: SmtpReply, command: string): Verdict {
  if (command === 'MAIL FROM' && reply.code >= 500) {
    return { reason: 'sender_rejected', kind: 'permanent', message: 'the server rejected the sender (MAIL FROM)', diagnosis: 'sender_refused' };
  }
  if (reply.code < 500) {
    return { reason: 'smtp_transient_failure', kind: 'transient', message: `the server answered ${command || 'the connection'} with a temporary failure` };
  }
  if (command === 'CONN' || command === 'EHLO' || command === 'HELO' || command === 'STARTTLS' || command === '') {
    return { reason: 'smtp_permanent_failure', kind: 'configuration', message: 'the server refused the SMTP session', diagnosis: 'smtp_session_refused' };
  }
  return { reason: 'smtp_permanent_failure', kind: 'permanent', message: `the server refused the message at ${command}` };
}

function noReplyVerdict(error: SmtpErrorLike, raw: unknown): Verdict {
  const code = error.code ?? '';
  const network = networkFailureOf(raw);
  const detail = network ? describeNetworkFailure(network) : (error.message ?? String(raw));
  if (code === 'ETLS' || network?.kind === 'tls') {
    return { reason: 'smtp_tls_failed', kind: 'configuration', message: `TLS with the server failed: ${detail}`, diagnosis: 'smtp_tls_failed' };
  }
  if (code === 'ETIMEDOUT' || network?.kind === 'timeout') {
    return { reason: 'smtp_timeout', kind: 'transient', message: `the server did not answer in time: ${detail}` };
  }
  if (code === 'EDNS' || network?.kind === 'dns' || network?.kind === 'unreachable') {
    return { reason: 'smtp_unreachable', kind: 'transient', message: `the server could not be reached: ${detail}`, diagnosis: 'smtp_unreachable' };
  }
  if (code === 'EMESSAGE' && /size/i.test(error.message ?? '')) {
    return { reason: 'message_too_large', kind: 'permanent', message: 'the message is larger than the server accepts (SIZE)', diagnosis: 'message_too_large' };
  }
  if (code === 'EENVELOPE') {
    return { reason: 'invalid_message', kind: 'permanent', message: `the message has no usable envelope: ${error.message ?? ''}` };
  }
  if (code === 'EAUTH' || code === 'ENOAUTH') {
    return {
      reason: 'smtp_auth_rejected',
      kind: 'configuration',
      message: `authentication could not be completed: ${error.message ?? ''}`,
      diagnosis: 'smtp_auth_rejected',
    };
  }
  if (code === 'ECONNECTION' || code === 'ESOCKET' || network?.kind === 'reset') {
    return { reason: 'smtp_transient_failure', kind: 'transient', message: `the SMTP connection was lost: ${detail}` };
  }
  return { reason: 'smtp_transient_failure', kind: 'transient', message: `sending failed: ${detail}` };
}

function providerReplyOf(error: SmtpErrorLike): string | undefined {
  const lines = new Set<string>();
  for (const item of error.rejectedErrors ?? []) if (item.response) lines.add(item.response.trim());
  if (lines.size === 0 && error.response) lines.add(error.response.trim());
  if (lines.size === 0) return undefined;
  return redact([...lines].slice(0, 10).join('\n')).slice(0, 2000);
}

export function classifySmtpError(error: unknown): RelayError {
  if (isRelayError(error)) return error;
  const fields: SmtpErrorLike = error && typeof error === 'object' ? error : { message: String(error) };
  const command = (fields.command ?? '').toUpperCase();
  const reply = parseSmtpReply(fields.response);

  let verdict: Verdict | undefined;
  if (reply) verdict = namedReplyVerdict(reply, command);
  if (!verdict && fields.code === 'ETLS') verdict = noReplyVerdict(fields, error);
  if (!verdict && command === 'RCPT TO') verdict = recipientsVerdict(fields, reply);
  if (!verdict && reply) verdict = senderVerdict(reply) ?? replyVerdict(reply, command);
  verdict ??= noReplyVerdict(fields, error);

  const text = `SMTP: ${verdict.message.replace(/\.+$/, '')}.`;
  return new RelayError(redact(text), {
    reason: verdict.reason,
    kind: verdict.kind,
    providerReply: providerReplyOf(fields),
    ...(verdict.diagnosis ? advice(verdict.diagnosis) : {}),
    retryAfterSeconds: verdict.retryAfterSeconds,
    cause: error,
  });
}
