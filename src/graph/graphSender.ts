/**
 * The graph transport: a MailSender (src/smtp/mailSender.ts's shape, so it goes behind the
 * mailbox throttle and the app-wide limits) that hands each message to Microsoft Graph as
 * the MIME the SMTP path would send (mime.ts).
 *
 *   fits one request (base64 MIME < 4 MB)  POST /users/{mailbox}/sendMail, text/plain base64 MIME → 202
 *   larger                                 POST /users/{mailbox}/messages (the MIME without its large
 *                                          attachments) → 201 draft; per large attachment
 *                                          POST …/messages/{id}/attachments/createUploadSession → uploadUrl,
 *                                          PUT byte ranges of 3 MiB (no Authorization: the URL carries its own)
 *                                          following nextExpectedRanges → 201; an attachment under 3 MiB that
 *                                          does not fit the draft: POST …/messages/{id}/attachments, a
 *                                          fileAttachment (Graph refuses upload sessions below 3 MB);
 *                                          POST …/messages/{id}/send → 202.
 *                                          A failure after the draft deletes it (best effort).
 *
 * Attachment streams are read one chunk at a time, so a 30 MB attachment costs one 3 MiB
 * buffer. A 401 drops the cached token and repeats that request once with a new one, as
 * the SMTP sender does for a 535. At most `graph.concurrency` (4) requests run at once per mailbox.
 */
import type { Readable } from 'node:stream';
import type { SendMailOptions } from 'nodemailer';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { silentLogger, type Logger } from '../core/log';
import type { GraphSettings } from '../settings';
import type { TokenCache } from '../token/tokenCache';
import { classifyGraphError, graphReply, type GraphOperation } from './classifyGraphError';
import { graphRequest, type GraphAnswer, type GraphRequest } from './graphRequest';
import { composeMime, planOf, UPLOAD_THRESHOLD, type MailAttachment } from './mime';
import { withinMailboxLimit } from './requestGate';

/** One upload PUT: a multiple of 320 KiB (Graph's rule for upload sessions) below the 4 MB request limit. */
export const UPLOAD_CHUNK_BYTES = 3 * 1024 * 1024;

export interface GraphSenderOptions {
  graph: GraphSettings;
  /** The sending mailbox (user principal name or primary address): /users/{mailbox}. */
  mailbox: string;
  /** The sender's Graph token cache (scope graph.scope), not the SMTP one. */
  tokens: TokenCache;
  /** PEM of extra CAs to trust (TLS_EXTRA_CA_FILE). */
  extraCa?: string;
  logger?: Logger;
}

/**
 * What a send reports and the sender offers: the shape of src/smtp's MailSender and SendResult
 * (restated, not imported: src/smtp sits on this row), so src/throttle and src/app use either alike.
 */
export interface SendResult {
  messageId: string;
  response: string;
  accepted: string[];
  rejected: string[];
  envelope: { from: string | false; to: string[] };
}

export interface GraphMailSender {
  send(mail: SendMailOptions): Promise<SendResult>;
  /** Gets a Graph token, sending nothing. */
  verify(): Promise<void>;
  close(): void;
  readonly stats: Readonly<GraphSenderStats>;
}

export interface GraphSenderStats {
  messagesSent: number;
  /** Always 0: requests share the process's keep-alive agent (kept for the MailSender shape). */
  connectionsOpened: number;
  /** Tokens put on requests. */
  authentications: number;
  /** Requests repeated with a new token after a 401. */
  tokenRetries: number;
  /** Messages that went as a draft with upload sessions. */
  draftsSent: number;
  /** Upload PUTs made. */
  uploadChunks: number;
}

export function createGraphMailSender(options: GraphSenderOptions): GraphMailSender {
  const { graph, tokens } = options;
  const logger = options.logger ?? silentLogger;
  const stats: GraphSenderStats = { messagesSent: 0, connectionsOpened: 0, authentications: 0, tokenRetries: 0, draftsSent: 0, uploadChunks: 0 };
  const connection = { extraCa: options.extraCa, timeoutMs: graph.requestTimeoutMs };
  const user = `${graph.url}/v1.0/users/${encodeURIComponent(options.mailbox)}`;
  const gateKey = `${graph.url}\n${options.mailbox.toLowerCase()}`;
  const limited = <T>(task: () => Promise<T>) => withinMailboxLimit(gateKey, graph.concurrency, task);

  /** A Graph call with the sender's token: a 401 drops the token and repeats the call once; an unexpected status throws classified. */
  async function call(request: Omit<GraphRequest, 'token'>, operation: GraphOperation, expected: number[]): Promise<GraphAnswer> {
    const attempt = async () => {
      const token = (await tokens.getToken()).token;
      stats.authentications++;
      return { token, answer: await limited(() => graphRequest({ ...request, token }, connection)) };
    };
    const first = await attempt();
    let answer = first.answer;
    if (answer.status === 401) {
      tokens.invalidate(first.token);
      stats.tokenRetries++;
      logger.warn('Microsoft Graph refused the access token; retrying once with a new token', {
        event: 'graph.token_refused',
        reply: graphReply(answer),
      });
      ({ answer } = await attempt());
    }
    if (!expected.includes(answer.status)) throw classifyGraphError(answer, operation);
    return answer;
  }

  async function sendWhole(mime: Buffer): Promise<GraphAnswer> {
    return call({ method: 'POST', url: `${user}/sendMail`, headers: { 'content-type': 'text/plain' }, body: mime.toString('base64') }, 'sendMail', [202]);
  }

  async function sendAsDraft(
    mail: SendMailOptions,
    uploads: Array<{ attachment: MailAttachment; size: number }>,
  ): Promise<{ messageId: string; envelope: SendResult['envelope']; answer: GraphAnswer }> {
    const uploaded = new Set(uploads.map((item) => item.attachment));
    const draftMail = { ...mail, attachments: (mail.attachments ?? []).filter((attachment) => !uploaded.has(attachment)) };
    const composed = await composeMime(draftMail);
    if (!composed) throw tooLargeForOneRequest();
    const created = await call(
      { method: 'POST', url: `${user}/messages`, headers: { 'content-type': 'text/plain' }, body: composed.mime.toString('base64') },
      'draft',
      [201],
    );
    const draftId = jsonField(created, 'id');
    if (!draftId) throw unexpectedAnswer('draft', created);
    const draft = `${user}/messages/${encodeURIComponent(draftId)}`;
    try {
      for (const { attachment, size } of uploads) await upload(draft, attachment, size);
      const answer = await call({ method: 'POST', url: `${draft}/send` }, 'send', [202]);
      stats.draftsSent++;
      return { messageId: composed.messageId, envelope: composed.envelope, answer };
    } catch (error) {
      for (const { attachment } of uploads) (attachment.content as Readable | undefined)?.destroy?.();
      // Best effort: a draft left behind would pile up in the mailbox's Drafts.
      await call({ method: 'DELETE', url: draft }, 'draft', [204, 404]).catch((cleanup: unknown) =>
        logger.warn('could not delete the Graph draft of a message that failed', {
          event: 'graph.draft_left',
          error: cleanup instanceof Error ? cleanup.message : String(cleanup),
        }),
      );
      throw error;
    }
  }

  /** One attachment beside the draft: a fileAttachment under UPLOAD_THRESHOLD, else an upload session. */
  async function upload(draft: string, attachment: MailAttachment, size: number): Promise<void> {
    if (size < UPLOAD_THRESHOLD) return postAttachment(draft, attachment, size);
    const session = await call(
      {
        method: 'POST',
        url: `${draft}/attachments/createUploadSession`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          AttachmentItem: {
            attachmentType: 'file',
            name: attachment.filename || 'attachment',
            size,
            ...(typeof attachment.contentType === 'string' ? { contentType: attachment.contentType } : {}),
            isInline: attachment.contentDisposition === 'inline',
            ...(attachment.cid ? { contentId: attachment.cid } : {}),
          },
        }),
      },
      'uploadSession',
      [201],
    );
    const uploadUrl = jsonField(session, 'uploadUrl');
    if (!uploadUrl || !uploadUrl.startsWith('https://')) throw unexpectedAnswer('uploadSession', session);
    let position = 0;
    let finished = false;
    for await (const chunk of chunksOf(attachment.content, UPLOAD_CHUNK_BYTES)) {
      if (position + chunk.length > size) throw changedSize(attachment, size);
      const answer = await limited(() =>
        graphRequest(
          {
            method: 'PUT',
            url: uploadUrl,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${position}-${position + chunk.length - 1}/${size}` },
            body: chunk,
          },
          connection,
        ),
      );
      stats.uploadChunks++;
      position += chunk.length;
      if (answer.status === 201) {
        finished = true;
        if (position !== size) throw unexpectedAnswer('upload', answer);
        continue;
      }
      if (answer.status !== 200) throw classifyGraphError(answer, 'upload');
      const next = expectedStart(answer);
      if (next !== position) throw unexpectedAnswer('upload', answer);
    }
    if (!finished || position !== size) throw changedSize(attachment, size);
  }

  /** A small attachment as one fileAttachment request: read whole (under 3 MiB, bounded by its size), base64 in JSON. */
  async function postAttachment(draft: string, attachment: MailAttachment, size: number): Promise<void> {
    const parts: Buffer[] = [];
    let length = 0;
    for await (const chunk of chunksOf(attachment.content, UPLOAD_CHUNK_BYTES)) {
      length += chunk.length;
      if (length > size) throw changedSize(attachment, size);
      parts.push(chunk);
    }
    if (length !== size) throw changedSize(attachment, size);
    await call(
      {
        method: 'POST',
        url: `${draft}/attachments`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          '@odata.type': '#microsoft.graph.fileAttachment',
          name: attachment.filename || 'attachment',
          ...(typeof attachment.contentType === 'string' ? { contentType: attachment.contentType } : {}),
          isInline: attachment.contentDisposition === 'inline',
          ...(attachment.cid ? { contentId: attachment.cid } : {}),
          contentBytes: Buffer.concat(parts, length).toString('base64'),
        }),
      },
      'attachment',
      [201],
    );
  }

  return {
    stats,
    async send(mail) {
      const plan = planOf(mail);
      let sent: { messageId: string; envelope: SendResult['envelope']; answer: GraphAnswer } | undefined;
      if (plan.uploads.length === 0) {
        const composed = await composeMime(mail);
        if (!composed) throw tooLargeForOneRequest();
        sent = { messageId: composed.messageId, envelope: composed.envelope, answer: await sendWhole(composed.mime) };
      } else sent = await sendAsDraft(mail, plan.uploads);
      stats.messagesSent++;
      const requestId = sent.answer.headers['request-id'];
      return {
        messageId: sent.messageId,
        response: `${sent.answer.status} Accepted by Microsoft Graph${requestId ? ` (request-id ${String(requestId).slice(0, 64)})` : ''}`,
        accepted: sent.envelope.to,
        rejected: [],
        envelope: sent.envelope,
      };
    },
    async verify() {
      // The Graph token only: reading the mailbox (GET /users/{id}) needs User.Read.All, which Mail.Send does not give;
      // the doctor's Graph checks try the mailbox itself.
      await tokens.getToken();
    },
    close() {
      // Nothing to close: requests use the process's shared keep-alive agent.
    },
  };
}

/** Chunks of exactly `size` bytes (the last one shorter) from a stream, a buffer or a string. */
async function* chunksOf(content: MailAttachment['content'], size: number): AsyncGenerator<Buffer> {
  if (content === undefined) return;
  if (Buffer.isBuffer(content) || typeof content === 'string') {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
    for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
    return;
  }
  let pending: Buffer[] = [];
  let length = 0;
  for await (const piece of content as Readable) {
    let data = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
    while (length + data.length >= size) {
      const take = size - length;
      pending.push(data.subarray(0, take));
      yield Buffer.concat(pending, size);
      pending = [];
      length = 0;
      data = data.subarray(take);
    }
    if (data.length > 0) {
      pending.push(data);
      length += data.length;
    }
  }
  if (length > 0) yield Buffer.concat(pending, length);
}

/** The first byte Graph expects next (nextExpectedRanges: ["12345-"]). */
function expectedStart(answer: GraphAnswer): number | undefined {
  try {
    const ranges = (JSON.parse(answer.text) as { nextExpectedRanges?: unknown }).nextExpectedRanges;
    const first = Array.isArray(ranges) && typeof ranges[0] === 'string' ? /^(\d+)-/.exec(ranges[0]) : null;
    return first ? Number(first[1]) : undefined;
  } catch {
    return undefined;
  }
}

function jsonField(answer: GraphAnswer, name: 'id' | 'uploadUrl'): string | undefined {
  try {
    const value = (JSON.parse(answer.text) as Record<string, unknown>)[name];
    return typeof value === 'string' && value.length > 0 && value.length <= 4096 ? value : undefined;
  } catch {
    return undefined;
  }
}

function unexpectedAnswer(operation: GraphOperation, answer: GraphAnswer): RelayError {
  return new RelayError(`Microsoft Graph ${operation}: an answer the relay cannot follow; the message is sent again later.`, {
    reason: 'graph_unavailable',
    kind: 'transient',
    providerReply: graphReply(answer),
    ...advice('graph_unavailable'),
  });
}

function changedSize(attachment: MailAttachment, size: number): RelayError {
  return new RelayError(`attachment "${attachment.filename || 'attachment'}" did not have the ${size} bytes measured; the message is sent again later`, {
    reason: 'storage_unavailable',
    kind: 'transient',
  });
}

function tooLargeForOneRequest(): RelayError {
  return new RelayError("the message's text and small attachments exceed Microsoft Graph's 4 MB request limit", {
    reason: 'message_too_large',
    kind: 'permanent',
    ...advice('graph_message_too_large'),
  });
}
