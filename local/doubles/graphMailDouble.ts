/**
 * GraphMailDouble: a TEST DOUBLE of the Microsoft Graph v1.0 mail endpoints the graph transport
 * uses, after the documented contract (user-sendmail, user-post-messages, attachment-createuploadsession,
 * message-send, "Attach large files to Outlook messages", throttling guidance):
 *   POST /v1.0/users/{id}/sendMail                 text/plain, base64 MIME → 202 (Mail.Send)
 *   POST /v1.0/users/{id}/messages                 text/plain, base64 MIME → 201 { id } draft (Mail.ReadWrite)
 *   POST /v1.0/users/{id}/messages/{m}/attachments/createUploadSession  { AttachmentItem } → 201 { uploadUrl, nextExpectedRanges };
 *                                                  below 3 MB → 400 ErrorAttachmentSizeShouldNotBeLessThanMinimumSize
 *   POST /v1.0/users/{id}/messages/{m}/attachments { @odata.type #microsoft.graph.fileAttachment, name, contentBytes } → 201 { id }
 *   PUT  {uploadUrl}                               Content-Range bytes a-b/total, < 4 MB per request, ranges in order,
 *                                                  NO Authorization header (the docs: it fails with 401) → 200 { nextExpectedRanges }, last 201
 *   POST /v1.0/users/{id}/messages/{m}/send        → 202, the draft with its uploaded attachments is "sent"
 *   DELETE /v1.0/users/{id}/messages/{m}           → 204
 *   GET  /v1.0/users/{id}                          → 200 { id }
 *   GET  /v1.0/users/{id}/mailFolders('drafts')    → 200 { id } (Mail.ReadWrite: the doctor's mailbox check)
 *   errors: { error: { code, message } }; a request body over 4 MB → 413; a fifth concurrent request for one
 *   mailbox → 429 MailboxConcurrency with Retry-After; an injected 429/503/… per operation.
 * Bearer tokens are checked by the caller's verifier (the local token server's keys) for this double's
 * URL as audience (it stands in for https://graph.microsoft.com) and the roles claim (Mail.Send; Mail.ReadWrite
 * for drafts and upload sessions). An allow-list stands for an application access policy (403 ErrorAccessDenied).
 */
import { createHash, randomUUID } from 'node:crypto';
import type https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { simpleParser, type ParsedMail } from 'mailparser';
import { loopbackUrl, startLoopbackHttps } from './loopbackHttps';

export const REQUEST_LIMIT = 4 * 1024 * 1024;
export const MAILBOX_CONCURRENCY = 4;

export type GraphMailOperation = 'sendMail' | 'draft' | 'uploadSession' | 'attachment' | 'upload' | 'send';

export interface GraphMailDoubleOptions {
  tls: { certPem: string; keyPem: string };
  /** Claims of a valid token for `audience`, or undefined. */
  verifyToken(token: string, audience: string): Promise<Record<string, unknown> | undefined>;
  /** Mailboxes that exist in Exchange Online (lower-case addresses). */
  mailboxes: string[];
  /** Application access policy: the mailboxes the app may use; absent: every mailbox. */
  allowedMailboxes?: string[];
  /** Mailboxes Graph knows but cannot serve (on-premises, unlicensed): MailboxNotEnabledForRESTAPI. */
  notEnabled?: string[];
  /** Each request waits this long before it is answered (so concurrency can build up). */
  delayMs?: number;
}

export interface UploadedAttachment {
  name: string;
  size: number;
  contentType?: string;
  isInline: boolean;
  contentId?: string;
  sha256: string;
}

/** A message the double "sent": its decoded MIME, parsed, and (for a draft) the attachments uploaded beside it. */
export interface SentGraphMessage {
  mailbox: string;
  via: 'sendMail' | 'draft';
  mime: Buffer;
  parsed: ParsedMail;
  uploaded: UploadedAttachment[];
}

export interface UploadPut {
  session: string;
  start: number;
  end: number;
  total: number;
  length: number;
}

interface Draft {
  id: string;
  mailbox: string;
  mime: Buffer;
  uploaded: UploadedAttachment[];
}

interface Session {
  id: string;
  draft: Draft;
  item: Omit<UploadedAttachment, 'sha256'>;
  next: number;
  hash: ReturnType<typeof createHash>;
  done: boolean;
}

interface Injected {
  operation: GraphMailOperation;
  status: number;
  code: string;
  message: string;
  retryAfter?: string;
}

/** Graph refuses upload sessions for attachments under 3 MB (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize). */
const UPLOAD_SESSION_MINIMUM = 3 * 1024 * 1024;

export class GraphMailDouble {
  readonly sent: SentGraphMessage[] = [];
  readonly puts: UploadPut[] = [];
  /** Every request, as "METHOD operation" (upload PUTs included). */
  readonly requests: string[] = [];
  /** Requests answered 429 MailboxConcurrency. */
  concurrencyRefusals = 0;
  /** The most requests in flight at once for one mailbox. */
  maxConcurrent = 0;
  /** Bearer tokens seen (to scan logs and records for them). */
  readonly tokensSeen = new Set<string>();
  /** Authorization headers sent to an upload URL (the docs say: none). */
  uploadAuthorizations = 0;
  readonly drafts = new Map<string, Draft>();
  deletedDrafts = 0;
  private readonly sessions = new Map<string, Session>();
  private readonly injected: Injected[] = [];
  private readonly inFlight = new Map<string, number>();

  private constructor(
    private readonly server: https.Server,
    private readonly options: GraphMailDoubleOptions,
  ) {}

  static async start(options: GraphMailDoubleOptions): Promise<GraphMailDouble> {
    let instance: GraphMailDouble | undefined;
    const server = await startLoopbackHttps(options.tls, (req, res) => instance!.handle(req, res));
    instance = new GraphMailDouble(server, options);
    return instance;
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  /** The next `times` requests of `operation` are answered with this error (and Retry-After when given). */
  failNext(operation: GraphMailOperation, reply: { status: number; code: string; message?: string; retryAfter?: string }, times = 1): void {
    for (let i = 0; i < times; i++) this.injected.push({ operation, message: reply.code, ...reply });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'PUT' && url.pathname.startsWith('/upload/')) return this.put(req, res, url.pathname.slice('/upload/'.length));
    const match =
      /^\/v1\.0\/users\/([^/]+)(?:\/(sendMail|messages|mailFolders\('drafts'\))(?:\/([^/]+)(?:\/(send|attachments\/createUploadSession|attachments))?)?)?$/.exec(
        url.pathname,
      );
    if (!match) return this.error(res, 404, 'UnknownError', `no route ${req.method} ${url.pathname}`);
    const mailbox = decodeURIComponent(match[1]!).toLowerCase();
    const [, , collection, messageId, action] = match;
    const operation: GraphMailOperation | 'user' | 'delete' | 'mailFolders' =
      collection === "mailFolders('drafts')"
        ? 'mailFolders'
        : collection === 'sendMail'
          ? 'sendMail'
          : collection === undefined
            ? 'user'
            : messageId === undefined
              ? 'draft'
              : action === 'send'
                ? 'send'
                : action === 'attachments'
                  ? 'attachment'
                  : action
                    ? 'uploadSession'
                    : 'delete';
    this.requests.push(`${req.method} ${operation}`);
    return this.limited(mailbox, res, async () => {
      const body = await readBody(req);
      if (body === undefined) return this.error(res, 413, 'RequestEntityTooLarge', 'The request exceeds the 4 MB limit.');
      const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (token) this.tokensSeen.add(token);
      const claims = token ? await this.options.verifyToken(token, this.url) : undefined;
      if (!claims) return this.error(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
      const roles = Array.isArray(claims.roles) ? (claims.roles as unknown[]) : [];
      const needsReadWrite =
        operation === 'draft' || operation === 'uploadSession' || operation === 'attachment' || operation === 'delete' || operation === 'mailFolders';
      if (!roles.includes('Mail.Send') || (needsReadWrite && !roles.includes('Mail.ReadWrite'))) {
        return this.error(res, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
      }
      if (this.options.notEnabled?.includes(mailbox)) {
        return this.error(res, 404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
      }
      if (!this.options.mailboxes.includes(mailbox)) return this.error(res, 404, 'ErrorInvalidUser', `The requested user '${mailbox}' is invalid.`);
      if (this.options.allowedMailboxes && !this.options.allowedMailboxes.includes(mailbox)) {
        return this.error(res, 403, 'ErrorAccessDenied', 'Access to OData is disabled: the application access policy does not include this mailbox.');
      }
      if (operation !== 'user' && operation !== 'delete' && operation !== 'mailFolders' && this.inject(operation, res)) return;
      switch (operation) {
        case 'user':
          return this.json(res, 200, { id: randomUUID(), mail: mailbox });
        case 'mailFolders':
          return this.json(res, 200, { id: `drafts-${createHash('sha256').update(mailbox).digest('hex').slice(0, 16)}` });
        case 'sendMail': {
          const mime = await this.mimeOf(req, body, res);
          if (!mime) return;
          this.sent.push({ mailbox, via: 'sendMail', mime, parsed: await simpleParser(mime), uploaded: [] });
          return this.json(res, 202);
        }
        case 'draft': {
          const mime = await this.mimeOf(req, body, res);
          if (!mime) return;
          const draft: Draft = { id: randomUUID(), mailbox, mime, uploaded: [] };
          this.drafts.set(draft.id, draft);
          return this.json(res, 201, { id: draft.id, isDraft: true });
        }
        case 'uploadSession': {
          const draft = this.draftOf(mailbox, messageId!, res);
          if (!draft) return;
          const item = (JSON.parse(body.toString('utf8') || '{}') as { AttachmentItem?: Record<string, unknown> }).AttachmentItem;
          if (!item || item.attachmentType !== 'file' || typeof item.name !== 'string' || typeof item.size !== 'number' || item.size <= 0) {
            return this.error(res, 400, 'ErrorInvalidRequest', 'AttachmentItem needs attachmentType file, name and size.');
          }
          if (item.size < UPLOAD_SESSION_MINIMUM) {
            return this.error(res, 400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'Attachment size should not be less than the minimum size.');
          }
          const session: Session = {
            id: randomUUID(),
            draft,
            item: {
              name: item.name,
              size: item.size,
              contentType: typeof item.contentType === 'string' ? item.contentType : undefined,
              isInline: item.isInline === true,
              contentId: typeof item.contentId === 'string' ? item.contentId : undefined,
            },
            next: 0,
            hash: createHash('sha256'),
            done: false,
          };
          this.sessions.set(session.id, session);
          return this.json(res, 201, {
            uploadUrl: `${this.url}/upload/${session.id}`,
            expirationDateTime: new Date(Date.now() + 6 * 3600_000).toISOString(),
            nextExpectedRanges: ['0-'],
          });
        }
        case 'attachment': {
          const draft = this.draftOf(mailbox, messageId!, res);
          if (!draft) return;
          const item = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
          if (item['@odata.type'] !== '#microsoft.graph.fileAttachment' || typeof item.name !== 'string' || typeof item.contentBytes !== 'string') {
            return this.error(res, 400, 'ErrorInvalidRequest', 'A fileAttachment needs @odata.type, name and contentBytes.');
          }
          const bytes = Buffer.from(item.contentBytes, 'base64');
          draft.uploaded.push({
            name: item.name,
            size: bytes.length,
            contentType: typeof item.contentType === 'string' ? item.contentType : undefined,
            isInline: item.isInline === true,
            contentId: typeof item.contentId === 'string' ? item.contentId : undefined,
            sha256: createHash('sha256').update(bytes).digest('hex'),
          });
          return this.json(res, 201, { id: randomUUID(), name: item.name, size: bytes.length });
        }
        case 'send': {
          const draft = this.draftOf(mailbox, messageId!, res);
          if (!draft) return;
          if ([...this.sessions.values()].some((session) => session.draft === draft && !session.done)) {
            return this.error(res, 400, 'ErrorInvalidRequest', 'An attachment upload is not complete.');
          }
          this.drafts.delete(draft.id);
          this.sent.push({ mailbox, via: 'draft', mime: draft.mime, parsed: await simpleParser(draft.mime), uploaded: draft.uploaded });
          return this.json(res, 202);
        }
        case 'delete': {
          if (!this.drafts.delete(messageId!)) return this.error(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
          this.deletedDrafts++;
          return this.json(res, 204);
        }
      }
    });
  }

  /** One byte range of an upload session. */
  private async put(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const session = this.sessions.get(id);
    this.requests.push('PUT upload');
    if (!session) return this.error(res, 404, 'ItemNotFound', 'The upload session does not exist or has expired.');
    return this.limited(session.draft.mailbox, res, async () => {
      if (req.headers.authorization !== undefined) {
        this.uploadAuthorizations++;
        return this.error(res, 401, 'InvalidAuthenticationToken', 'An Authorization header was sent to the upload URL.');
      }
      const body = await readBody(req);
      if (body === undefined) return this.error(res, 413, 'RequestEntityTooLarge', 'The request exceeds the 4 MB limit.');
      if (this.inject('upload', res)) return;
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
      if (!range) return this.error(res, 400, 'InvalidContentRange', 'Content-Range must be bytes a-b/total.');
      const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
      const declared = Number(req.headers['content-length']);
      if (total !== session.item.size || end < start || end >= total || end - start + 1 !== body.length || declared !== body.length) {
        return this.error(res, 400, 'InvalidContentRange', `The range ${start}-${end}/${total} does not match the session or the body.`);
      }
      if (start !== session.next) return this.error(res, 416, 'InvalidRange', `Expected the range starting at ${session.next}.`);
      this.puts.push({ session: id, start, end, total, length: body.length });
      session.hash.update(body);
      session.next = end + 1;
      if (session.next < total)
        return this.json(res, 200, { expirationDateTime: new Date(Date.now() + 6 * 3600_000).toISOString(), nextExpectedRanges: [`${session.next}-`] });
      session.done = true;
      session.draft.uploaded.push({ ...session.item, sha256: session.hash.digest('hex') });
      return this.json(res, 201);
    });
  }

  /** Graph's 4 concurrent requests per mailbox: a fifth is refused at once. */
  private async limited(mailbox: string, res: ServerResponse, task: () => Promise<void>): Promise<void> {
    const running = (this.inFlight.get(mailbox) ?? 0) + 1;
    if (running > MAILBOX_CONCURRENCY) {
      this.concurrencyRefusals++;
      res.setHeader('retry-after', '1');
      return this.error(res, 429, 'MailboxConcurrency', 'Application is over its MailboxConcurrency limit.');
    }
    this.inFlight.set(mailbox, running);
    this.maxConcurrent = Math.max(this.maxConcurrent, running);
    try {
      if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
      await task();
    } finally {
      this.inFlight.set(mailbox, (this.inFlight.get(mailbox) ?? 1) - 1);
    }
  }

  private inject(operation: GraphMailOperation, res: ServerResponse): boolean {
    const index = this.injected.findIndex((item) => item.operation === operation);
    if (index < 0) return false;
    const [fault] = this.injected.splice(index, 1);
    if (fault!.retryAfter !== undefined) res.setHeader('retry-after', fault!.retryAfter);
    this.error(res, fault!.status, fault!.code, fault!.message);
    return true;
  }

  /** A base64 MIME body (Content-Type text/plain), decoded. */
  private async mimeOf(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<Buffer | undefined> {
    const text = body.toString('ascii').replace(/\s+/g, '');
    if (!/^text\/plain\b/i.test(req.headers['content-type'] ?? '') || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      this.error(res, 400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
      return undefined;
    }
    return Buffer.from(text, 'base64');
  }

  private draftOf(mailbox: string, id: string, res: ServerResponse): Draft | undefined {
    const draft = this.drafts.get(id);
    if (draft && draft.mailbox === mailbox) return draft;
    this.error(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return undefined;
  }

  private json(res: ServerResponse, status: number, body?: unknown): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': randomUUID(), 'content-length': Buffer.byteLength(text) }).end(text);
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    this.json(res, status, { error: { code, message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString() } } });
  }
}

/** The request body, or undefined past Graph's 4 MB request limit (the rest is drained, unread). */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  let tooLarge = Number(req.headers['content-length'] ?? 0) > REQUEST_LIMIT;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > REQUEST_LIMIT) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks, length);
}
