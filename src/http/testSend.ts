/**
 * POST a message in the queue's JSON contract and either send it now, through
 * the process's own sender (same SMTP pool, same token cache), and answer with
 * the outcome, or (mode=enqueue) put it on the relay's queue and answer 202.
 * With several senders (RELAY_SENDERS) the message chooses one as on the queue
 * (its `sender`, or its `from`; anything else is sender_not_allowed) and is sent
 * through that sender's own parts.
 *
 * A caller with a function key is a producer, not an operator: the message gets
 * the queue path's validation (parseQueueMessage: schema, blob names, recipient
 * cap, sender allow-list) and the queue path's attachment handling (the relay's
 * AttachmentBlobs: MAIL_MAX_ATTACHMENTS_MB, blob attachments from the attachment
 * container), and the body is read only up to a limit (readBoundedBody).
 *
 * Answers never carry a stack trace, a secret or a token: a failure carries the
 * classified reason, the provider's reply and the setup step that fixes it.
 */
import { performance } from 'node:perf_hooks';
import type { SendMailOptions } from 'nodemailer';
import { ConfigError, type RelayConfig } from '../settings';
import { isRelayError, type RelayError } from '../core/errors';
import { toMailOptions } from '../message/compose';
import { closeAttachmentStreams } from '../delivery/attachmentBlobs';
import type { MessageSender } from '../delivery/ports';
import { InvalidMessageError, parseQueueMessage, parseRoutedMessage, type RelayMessage } from '../message/validate';
import type { SenderDirectory } from '../relay/handler';
import type { ResolvedMessage } from '../message/types';
import { redact, redactValue } from '../core/redact';
import { findingOfConfigError, findingOfError } from '../diagnostics/findings';
import { readBoundedBody } from './requestBody';
import type { HttpAnswer, HttpInput } from './types';

export interface TestSendDependencies {
  /** The process's relay settings, sender and attachment reader; throws ConfigError when the settings are wrong. */
  relay(): {
    config: RelayConfig;
    sender: MessageSender;
    /** The queue path's claim-check reader (src/delivery/attachmentBlobs.ts). */
    attachments: { resolve(message: RelayMessage): Promise<ResolvedMessage> };
    /** The senders a message may choose (as the queue handler routes); absent: every message goes through `sender`. */
    senders?: SenderDirectory;
  };
  /** Put the text on the queue; resolves with the queue's message id. */
  enqueue(queueName: string, text: string): Promise<{ messageId: string }>;
}

/** The largest queue message Azure Storage takes (64 KiB of text). */
const MAX_QUEUE_MESSAGE_BYTES = 64 * 1024;
const MODES = ['send', 'enqueue'] as const;

/**
 * The largest body mode=send reads: what the queue path can send at most, a queue message's
 * 64 KiB plus MAIL_MAX_ATTACHMENTS_MB of attachments (here inline, so base64: 4 bytes per 3).
 * Derived rather than a setting of its own, so the two paths cannot drift apart.
 */
function maxSendBodyBytes(config: RelayConfig): number {
  return MAX_QUEUE_MESSAGE_BYTES + Math.ceil(config.queue.maxAttachmentBytes / 3) * 4;
}

export async function handleTestSend(request: HttpInput, deps: TestSendDependencies): Promise<HttpAnswer> {
  if (request.method.toUpperCase() !== 'POST') {
    return answer(405, { status: 'invalid', problems: [{ path: 'method', problem: 'only POST is accepted' }] }, { allow: 'POST' });
  }
  const mode = (request.query.get('mode') ?? 'send').toLowerCase();
  if (!(MODES as readonly string[]).includes(mode)) {
    return answer(400, { status: 'invalid', problems: [{ path: 'mode', problem: `must be one of ${MODES.join(', ')}` }] });
  }

  let relay: ReturnType<TestSendDependencies['relay']>;
  try {
    relay = deps.relay();
  } catch (error) {
    if (error instanceof ConfigError) {
      return answer(503, { status: 'failed', reason: 'settings_invalid', diagnosis: findingOfConfigError(error) });
    }
    return internalError(error);
  }

  const body = await readBoundedBody(request, mode === 'enqueue' ? MAX_QUEUE_MESSAGE_BYTES : maxSendBodyBytes(relay.config));
  if (body.status === 'too_large') return bodyTooLarge(mode, body.limitBytes, relay.config);
  const text = body.bytes.toString('utf8');
  let message: RelayMessage;
  let senderId: string | undefined;
  try {
    if (relay.senders) ({ message, sender: senderId } = parseRoutedMessage(text, relay.senders.routing));
    else message = parseQueueMessage(text, relay.config.mail);
  } catch (error) {
    if (error instanceof InvalidMessageError) return answer(400, { status: 'invalid', reason: error.reason, problems: error.problems });
    if (isRelayError(error) && error.kind === 'permanent') {
      return answer(400, { status: 'invalid', reason: error.reason, problems: [{ path: '$', problem: error.message }] });
    }
    return internalError(error);
  }

  if (mode === 'enqueue') return enqueue(text, relay.config, deps);

  const started = performance.now();
  let resolved: ResolvedMessage | undefined;
  try {
    // As on the queue path: inline and blob attachments within MAIL_MAX_ATTACHMENTS_MB, blobs streamed from their container.
    // The chosen sender's parts (its From policy, token cache and SMTP pool), built on first use.
    const route = relay.senders && senderId !== undefined ? relay.senders.route(senderId) : { id: undefined, mail: relay.config.mail, sender: relay.sender };
    resolved = await relay.attachments.resolve(message);
    let mail: SendMailOptions;
    try {
      mail = toMailOptions(resolved, route.mail);
    } catch (error) {
      if (isRelayError(error) && error.kind === 'permanent') {
        return answer(400, { status: 'invalid', reason: error.reason, problems: [{ path: '$', problem: error.message }] });
      }
      throw error;
    }
    const sent = await route.sender.send(mail);
    return answer(200, {
      status: 'sent',
      sender: route.id,
      messageId: sent.messageId,
      smtpReply: sent.response,
      accepted: sent.accepted,
      rejected: sent.rejected,
      durationMs: Math.round(performance.now() - started),
    });
  } catch (error) {
    if (!isRelayError(error)) return internalError(error);
    return failed(error, Math.round(performance.now() - started));
  } finally {
    // Blob downloads a send did not read to the end.
    if (resolved) closeAttachmentStreams(resolved);
  }
}

function bodyTooLarge(mode: string, limitBytes: number, config: RelayConfig): HttpAnswer {
  if (mode === 'enqueue') {
    return answer(413, {
      status: 'invalid',
      reason: 'too_large_for_queue',
      problems: [
        {
          path: '$',
          problem: `is larger than ${limitBytes} bytes; a queue message holds at most ${limitBytes} (send it without mode=enqueue, or put large files in the attachment container and name them with "blob")`,
        },
      ],
    });
  }
  const mebibytes = config.queue.maxAttachmentBytes / 2 ** 20;
  return answer(413, {
    status: 'invalid',
    reason: 'message_too_large',
    problems: [
      {
        path: '$',
        problem:
          `is larger than ${limitBytes} bytes, the most /api/send reads: a 64 KiB message plus ${mebibytes} MiB of attachments ` +
          '(MAIL_MAX_ATTACHMENTS_MB) in base64. Put large files in the attachment container and name them with "blob".',
      },
    ],
  });
}

async function enqueue(text: string, config: RelayConfig, deps: TestSendDependencies): Promise<HttpAnswer> {
  // The body was read up to MAX_QUEUE_MESSAGE_BYTES; bytes that are not UTF-8 can still grow when decoded.
  if (Buffer.byteLength(text, 'utf8') > MAX_QUEUE_MESSAGE_BYTES) return bodyTooLarge('enqueue', MAX_QUEUE_MESSAGE_BYTES, config);
  try {
    const queued = await deps.enqueue(config.queue.queueName, text);
    return answer(202, { status: 'queued', queue: config.queue.queueName, queueMessageId: queued.messageId });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return answer(503, { status: 'failed', reason: 'storage_unavailable', kind: 'transient', message: `could not enqueue: ${message}` });
  }
}

/** Status by kind: the message (422), the relay's setup (502), or try again later (503). */
function failed(error: RelayError, durationMs: number): HttpAnswer {
  const status = error.kind === 'permanent' ? 422 : error.kind === 'configuration' ? 502 : 503;
  const headers = error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : undefined;
  return answer(
    status,
    {
      status: 'failed',
      reason: error.reason,
      kind: error.kind,
      message: error.message,
      providerReply: error.providerReply,
      remedy: error.remedy,
      retryAfterSeconds: error.retryAfterSeconds,
      diagnosis: findingOfError(error),
      durationMs,
    },
    headers,
  );
}

function internalError(error: unknown): HttpAnswer {
  const message = error instanceof Error ? error.message : String(error);
  return answer(500, { status: 'failed', reason: 'internal_error', message: redact(message) });
}

function answer(status: number, body: Record<string, unknown>, headers?: Record<string, string>): HttpAnswer {
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return { status, jsonBody: redactValue(body), ...(headers ? { headers } : {}) };
}
