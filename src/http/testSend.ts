/**
 * POST a message in the queue's JSON contract and either send it now, through
 * the process's own sender (same SMTP pool, same token cache), and answer with
 * the outcome, or (mode=enqueue) put it on the relay's queue and answer 202.
 *
 * Answers never carry a stack trace, a secret or a token: a failure carries the
 * classified reason, the provider's reply and the setup step that fixes it.
 */
import { performance } from 'node:perf_hooks';
import type { SendMailOptions } from 'nodemailer';
import { ConfigError, type RelayConfig } from '../config';
import { isRelayError, type RelayError } from '../errors';
import { toMailOptions } from '../message/compose';
import { InvalidMessageError, parseQueueMessage } from '../message/validate';
import { redact, redactValue } from '../redact';
import { findingOfConfigError, findingOfError } from '../diagnostics/findings';
import type { HttpAnswer, HttpInput } from './types';

export interface TestSendDependencies {
  /** The process's relay settings and sender; throws ConfigError when the settings are wrong. */
  relay(): { config: RelayConfig; sender: { send(mail: SendMailOptions): Promise<SentMail> } };
  /** Put the text on the queue; resolves with the queue's message id. */
  enqueue(queueName: string, text: string): Promise<{ messageId: string }>;
}

interface SentMail {
  messageId: string;
  response: string;
  accepted: string[];
  rejected: string[];
}

/** The largest queue message Azure Storage takes (64 KiB of text). */
const MAX_QUEUE_MESSAGE_BYTES = 64 * 1024;
const MODES = ['send', 'enqueue'] as const;

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

  const text = await request.text();
  let mail: SendMailOptions;
  try {
    mail = toMailOptions(parseQueueMessage(text, relay.config.mail), relay.config.mail);
  } catch (error) {
    if (error instanceof InvalidMessageError) return answer(400, { status: 'invalid', reason: error.reason, problems: error.problems });
    if (isRelayError(error) && error.kind === 'permanent') {
      return answer(400, { status: 'invalid', reason: error.reason, problems: [{ path: '$', problem: error.message }] });
    }
    return internalError(error);
  }

  if (mode === 'enqueue') return enqueue(text, relay.config, deps);

  const started = performance.now();
  try {
    const sent = await relay.sender.send(mail);
    return answer(200, {
      status: 'sent',
      messageId: sent.messageId,
      smtpReply: sent.response,
      accepted: sent.accepted,
      rejected: sent.rejected,
      durationMs: Math.round(performance.now() - started),
    });
  } catch (error) {
    if (!isRelayError(error)) return internalError(error);
    return failed(error, Math.round(performance.now() - started));
  }
}

async function enqueue(text: string, config: RelayConfig, deps: TestSendDependencies): Promise<HttpAnswer> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_QUEUE_MESSAGE_BYTES) {
    return answer(413, {
      status: 'invalid',
      reason: 'too_large_for_queue',
      problems: [{ path: '$', problem: `is ${bytes} bytes; a queue message holds at most ${MAX_QUEUE_MESSAGE_BYTES} (send it without mode=enqueue)` }],
    });
  }
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
