/**
 * The queue-message contract: message.schema.json checks the shape (compiled
 * at build time by scripts/compileSchema.ts, reporting every problem), a second pass checks what a schema cannot
 * say well (refused headers, display names, attachment names and charsets, recipient totals, the sender allow-list), and the
 * result is a normalised RelayMessage.
 */
import type { ErrorObject } from 'ajv';
import { echoInput } from '../core/echo';
import { RelayError, type ReasonCode } from '../core/errors';
import { advice, type Advice } from '../core/diagnoses';
import { addressKey, isEmailAddress, otherAddressInName, parseMailboxText, type Mailbox } from './address';
import { blobNameProblem } from './blobName';
import { contentTypeProblem } from './contentType';
import { baseFileName } from './filename';
import { isVerbatimHeader, refusedHeader } from './headers';
import { displayNameProblem, verbatimValueProblem } from './headerText';
import schema from './message.schema.json';
import validateShape from './messageShape';
import { parsePayload } from './payload';
import type { BlobAttachment, MessagePolicy, RelayAttachment, RelayMessage, SenderPolicy, SenderRouting } from './types';

export { decodeQueueText } from './payload';
export type { BlobAttachment, Mailbox, RelayAttachment, RelayMessage, SenderPolicy, SenderRouting };

export interface MessageProblem {
  /** Where the problem is, e.g. `$.to[1].address`. */
  path: string;
  problem: string;
}

/** A queue message the relay will never be able to send as it is; `problems` lists everything wrong with it. */
export class InvalidMessageError extends RelayError {
  readonly problems: MessageProblem[];

  /** `advised`: the catalogue's entry for what the producer should do (advice() from src/core/diagnoses). */
  constructor(reason: ReasonCode, problems: MessageProblem[], advised: Advice) {
    const list = problems.map((item) => `${item.path}: ${item.problem}`).join('; ');
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`Invalid queue message (${count}): ${list}`, { reason, kind: 'permanent', ...advised });
    this.name = 'InvalidMessageError';
    this.problems = problems;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), problems: this.problems };
  }
}

const NO_LINE_BREAKS = '^[^\\r\\n\\u0000]*$';
const PATTERN_PROBLEMS: Record<string, string> = {
  [NO_LINE_BREAKS]: 'must not contain CR, LF or NUL characters',
  '^[!-9;-~]+$': 'is not a header field name (printable ASCII without spaces or colon)',
  '^[ -~]*$': 'must be printable ASCII',
  '^[!-;=?-~]+$': 'must be printable ASCII without spaces or angle brackets',
  [schema.definitions.attachment.properties.contentType.pattern]: 'must be a MIME type such as application/pdf',
  [schema.properties.sender.pattern]: 'is not a sender id (1 to 32 lower-case letters, digits and inner hyphens)',
};
const FORMAT_PROBLEMS: Record<string, string> = {
  mailbox: 'must be exactly one e-mail address, written "a@example.com" or "Name <a@example.com>"',
  'idn-email': 'must be an e-mail address (local@domain)',
  base64: 'must be standard base64 (A-Z a-z 0-9 + /, padded with =, no line breaks or spaces)',
};
const RECIPIENT_FIELDS = ['to', 'cc', 'bcc'] as const;

/**
 * Validates a queue payload (object, JSON text, base64 of JSON text, or bytes)
 * and returns the normalised message. Throws RelayError `invalid_json`, or an
 * InvalidMessageError with reason `invalid_message`, `too_many_recipients` or
 * `sender_not_allowed` (all permanent).
 */
export function parseQueueMessage(payload: unknown, mail: MessagePolicy): RelayMessage {
  return parseRoutedMessage(payload, { senders: [{ id: DEFAULT_SENDER, ...mail }], defaultId: DEFAULT_SENDER }).message;
}

/**
 * Like parseQueueMessage, choosing the message's sender first: the one its `sender` field
 * names, else the one whose From addresses include its `from`, else the default sender.
 * A sender that does not exist, or may not use the `from`, is `sender_not_allowed`.
 */
export function parseRoutedMessage(payload: unknown, routing: SenderRouting): { message: RelayMessage; sender: string } {
  const data = parsePayload(payload);
  const route = chooseSender(data, routing);
  return { message: checkMessage(data, route.policy, route.problems), sender: route.policy.id };
}

/** The id the single-sender settings' sender has. */
const DEFAULT_SENDER = 'default';

/** The sender of `data`, and what is wrong with its choice (the sender_not_allowed problems). */
function chooseSender(data: unknown, routing: SenderRouting): { policy: SenderPolicy; problems: MessageProblem[] } {
  const fallback = routing.senders.find((sender) => sender.id === routing.defaultId) ?? routing.senders[0]!;
  if (!isPlainObject(data)) return { policy: fallback, problems: [] };
  const named = typeof data.sender === 'string' ? data.sender : undefined;
  const address = senderAddress(data.from);
  if (named !== undefined) {
    const policy = routing.senders.find((sender) => sender.id === named);
    // An id off the schema's pattern is reported by the schema already.
    if (!policy)
      return {
        policy: fallback,
        problems: SENDER_ID_SHAPE.test(named) ? [{ path: '$.sender', problem: `${echoInput(named)} is not a sender of this relay` }] : [],
      };
    if (address !== undefined && !isAllowedSender(address, policy)) {
      return { policy, problems: [{ path: '$.from', problem: `${echoInput(address)} is not a From address of sender ${echoInput(named)}` }] };
    }
    return { policy, problems: [] };
  }
  if (address === undefined) return { policy: fallback, problems: [] };
  const candidates = routing.senders.filter((sender) => isAllowedSender(address, sender));
  if (candidates.length === 1) return { policy: candidates[0]!, problems: [] };
  if (candidates.length > 1) {
    const ids = candidates.map((sender) => sender.id).join(', ');
    return { policy: fallback, problems: [{ path: '$.from', problem: `${echoInput(address)} may be sent by several senders (${ids}): name one in "sender"` }] };
  }
  const problem =
    routing.senders.length === 1
      ? `${echoInput(address)} is neither MAIL_FROM nor listed in MAIL_ALLOWED_FROM`
      : `${echoInput(address)} is a From address of no sender (MAIL_FROM, MAIL_ALLOWED_FROM, RELAY_SENDERS)`;
  return { policy: fallback, problems: [{ path: '$.from', problem }] };
}

/** What the schema says a sender id is (the settings' SENDER_ID), to tell its problems once. */
const SENDER_ID_SHAPE = new RegExp(schema.properties.sender.pattern);

/** Every check after the sender is chosen; `routeProblems` are the sender_not_allowed ones. */
function checkMessage(data: unknown, mail: MessagePolicy, routeProblems: MessageProblem[]): RelayMessage {
  const invalid: MessageProblem[] = [];
  if (!validateShape(data)) invalid.push(...describeSchemaErrors(validateShape.errors ?? []));
  if (!isPlainObject(data)) throw rejection('invalid_message', invalid, mail);

  invalid.push(...checkHeaders(data.headers), ...checkDisplayNames(data), ...checkAttachments(data.attachments));
  const recipientCount = countRecipients(data);
  if (recipientCount === 0) invalid.push({ path: '$', problem: 'needs at least one recipient in to, cc or bcc' });

  const tooMany: MessageProblem[] = [];
  if (recipientCount > mail.maxRecipients) {
    tooMany.push({
      path: '$',
      problem: `has ${recipientCount} recipients in to, cc and bcc; at most ${mail.maxRecipients} are allowed (MAIL_MAX_RECIPIENTS)`,
    });
  }
  const notAllowed = routeProblems;

  // Every problem is listed; the reason names the most fundamental one.
  const all = [...invalid, ...tooMany, ...notAllowed];
  if (invalid.length > 0) throw rejection('invalid_message', all, mail);
  if (tooMany.length > 0) throw rejection('too_many_recipients', all, mail);
  if (notAllowed.length > 0) throw rejection('sender_not_allowed', all, mail);
  return normalise(data, mail);
}

/** The address in a message's `from`, when it is readable at all. */
function senderAddress(from: unknown): string | undefined {
  if (typeof from === 'string') return parseMailboxText(from)?.address;
  if (isPlainObject(from) && typeof from.address === 'string' && isEmailAddress(from.address)) return from.address;
  return undefined;
}

function rejection(
  reason: 'invalid_message' | 'too_many_recipients' | 'sender_not_allowed',
  problems: MessageProblem[],
  mail: MessagePolicy,
): InvalidMessageError {
  const advised =
    reason === 'invalid_message'
      ? advice('message_off_schema')
      : reason === 'too_many_recipients'
        ? advice('too_many_recipients', { maxRecipients: mail.maxRecipients })
        : advice('sender_not_allowed');
  return new InvalidMessageError(reason, problems, advised);
}

function isAllowedSender(address: string, mail: MessagePolicy): boolean {
  const key = addressKey(address);
  return key === addressKey(mail.from) || mail.allowedFrom.some((allowed) => addressKey(allowed) === key);
}

function describeSchemaErrors(errors: ErrorObject[]): MessageProblem[] {
  const problems: MessageProblem[] = [];
  const wrongTypePaths = new Set<string>();
  for (const error of errors) {
    // Wrapper errors only repeat what their inner errors already say.
    if (error.keyword === 'if' || error.keyword === 'propertyNames') continue;
    if (error.schemaPath.startsWith('#/anyOf/') || error.schemaPath.includes('/oneOf/')) continue;
    const segments = pointerSegments(error.instancePath);
    let problem: string;
    switch (error.keyword) {
      case 'anyOf':
        problem = 'needs a body: text, html or both';
        break;
      case 'oneOf':
        problem = 'needs exactly one of "content" (the bytes in base64) and "blob" (the name of a blob holding them)';
        break;
      case 'required':
        problem = 'is required';
        segments.push(String(error.params.missingProperty));
        break;
      case 'additionalProperties':
        problem = 'is not a known field';
        segments.push(String(error.params.additionalProperty));
        break;
      case 'type':
        // Nested definitions repeat the type check; the outermost one says most.
        if (wrongTypePaths.has(error.instancePath)) continue;
        wrongTypePaths.add(error.instancePath);
        problem = describeType(error.params.type as string | string[]);
        break;
      case 'format':
        problem = FORMAT_PROBLEMS[String(error.params.format)] ?? `must be a valid ${String(error.params.format)}`;
        break;
      case 'pattern':
        problem = PATTERN_PROBLEMS[String(error.params.pattern)] ?? `must match ${String(error.params.pattern)}`;
        break;
      default:
        problem = error.message ?? 'is invalid';
    }
    // propertyNames errors name the offending key rather than a value.
    if (error.propertyName !== undefined) segments.push(error.propertyName);
    problems.push({ path: renderPath(segments), problem });
  }
  return problems;
}

function describeType(type: string | string[]): string {
  const types = Array.isArray(type) ? type : [type];
  if (types.includes('string') && types.includes('object')) {
    return types.includes('array')
      ? 'must be a recipient (an address string or a {name, address} object) or an array of recipients'
      : 'must be an address string or a {name, address} object';
  }
  return `must be ${types.map((item) => (item === 'object' || item === 'array' ? `an ${item}` : `a ${item}`)).join(' or ')}`;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `$.to[0].address`, `$.headers["X Bad"]`; a producer's field and header names are cut to a small bound. */
function renderPath(segments: string[]): string {
  let path = '$';
  for (const name of segments) {
    const segment = echoInput(name);
    if (/^[0-9]+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) path += `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function checkHeaders(headers: unknown): MessageProblem[] {
  if (!isPlainObject(headers)) return [];
  const problems: MessageProblem[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const refused = refusedHeader(name);
    const problem = refused ? refused.problem : isVerbatimHeader(name) && typeof value === 'string' ? verbatimValueProblem(value) : undefined;
    if (problem) problems.push({ path: renderPath(['headers', name]), problem });
  }
  return problems;
}

/** Display names the wire could not carry, or that show another address than their own (string and object forms). */
function checkDisplayNames(data: Record<string, unknown>): MessageProblem[] {
  const problems: MessageProblem[] = [];
  for (const field of ['from', ...RECIPIENT_FIELDS, 'replyTo']) {
    const value = data[field];
    const entries = Array.isArray(value)
      ? value.map((entry: unknown, index) => ({ entry, segments: [field, String(index)] }))
      : [{ entry: value, segments: [field] }];
    for (const { entry, segments } of entries) {
      const mailbox = readableMailbox(entry);
      if (!mailbox?.name) continue;
      const path = renderPath(typeof entry === 'string' ? segments : [...segments, 'name']);
      const shown = otherAddressInName(mailbox.name, mailbox.address);
      if (shown !== undefined) problems.push({ path, problem: `has a display name that shows the address ${shown}, not its own ${mailbox.address}` });
      const tooLong = displayNameProblem(mailbox.name);
      if (tooLong !== undefined) problems.push({ path, problem: tooLong });
    }
  }
  return problems;
}

/** A recipient's name and address when its shape is valid (the schema reports the rest). */
function readableMailbox(entry: unknown): Mailbox | undefined {
  if (typeof entry === 'string') return parseMailboxText(entry);
  // A name with a line break is the schema's problem already.
  if (
    isPlainObject(entry) &&
    typeof entry.name === 'string' &&
    !/[\r\n\0]/.test(entry.name) &&
    typeof entry.address === 'string' &&
    isEmailAddress(entry.address)
  ) {
    return { name: entry.name, address: entry.address };
  }
  return undefined;
}

function checkAttachments(attachments: unknown): MessageProblem[] {
  if (!Array.isArray(attachments)) return [];
  const problems: MessageProblem[] = [];
  attachments.forEach((attachment, index) => {
    if (!isPlainObject(attachment)) return;
    if (typeof attachment.filename === 'string' && attachment.filename !== '' && baseFileName(attachment.filename) === undefined) {
      problems.push({
        path: renderPath(['attachments', String(index), 'filename']),
        problem: 'names no file once its folder path and control characters are removed',
      });
    }
    const typeProblem = typeof attachment.contentType === 'string' ? contentTypeProblem(attachment.contentType) : undefined;
    if (typeProblem) problems.push({ path: renderPath(['attachments', String(index), 'contentType']), problem: typeProblem });
    // Blob names follow blobName.ts, the one rule AttachmentBlobs also applies before any request.
    const blobProblem = typeof attachment.blob === 'string' ? blobNameProblem(attachment.blob) : undefined;
    if (blobProblem) problems.push({ path: renderPath(['attachments', String(index), 'blob']), problem: blobProblem });
  });
  return problems;
}

function countRecipients(data: Record<string, unknown>): number {
  let count = 0;
  for (const field of RECIPIENT_FIELDS) {
    const value = data[field];
    if (Array.isArray(value)) count += value.length;
    else if (value !== undefined) count += 1;
  }
  return count;
}

/* The functions below run only on data the schema accepted. */

interface ValidMessage {
  id?: string;
  sender?: string;
  from?: RecipientInput;
  to?: RecipientInput | RecipientInput[];
  cc?: RecipientInput | RecipientInput[];
  bcc?: RecipientInput | RecipientInput[];
  replyTo?: RecipientInput | RecipientInput[];
  subject?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  attachments?: Array<{ filename: string; contentType?: string; content?: string; blob?: string; contentId?: string }>;
}
type RecipientInput = string | { name?: string; address: string };

function normalise(data: Record<string, unknown>, mail: MessagePolicy): RelayMessage {
  const input = data as ValidMessage;
  const message: RelayMessage = {
    from: input.from === undefined ? { address: mail.from } : toMailbox(input.from),
    to: toMailboxes(input.to),
    cc: toMailboxes(input.cc),
    bcc: toMailboxes(input.bcc),
    replyTo: toMailboxes(input.replyTo),
    headers: copyHeaders(input.headers),
    attachments: (input.attachments ?? []).map(toAttachment),
  };
  if (input.id !== undefined) message.id = input.id;
  if (input.subject !== undefined) message.subject = input.subject;
  if (input.text !== undefined) message.text = input.text;
  if (input.html !== undefined) message.html = input.html;
  return message;
}

function toMailboxes(value: RecipientInput | RecipientInput[] | undefined): Mailbox[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(toMailbox);
}

function toMailbox(value: RecipientInput): Mailbox {
  if (typeof value === 'string') return parseMailboxText(value)!;
  return value.name ? { name: value.name, address: value.address } : { address: value.address };
}

function copyHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  // fromEntries defines own properties, so a header called "__proto__" stays an ordinary key.
  return Object.fromEntries(Object.entries(headers ?? {}));
}

function toAttachment(input: NonNullable<ValidMessage['attachments']>[number]): RelayAttachment | BlobAttachment {
  // The schema allows exactly one of content and blob.
  // Delivered under its base name only (filename.ts); the check above refused a name with none.
  const filename = baseFileName(input.filename)!;
  const attachment: RelayAttachment | BlobAttachment =
    input.blob !== undefined ? { filename, blob: input.blob } : { filename, content: Buffer.from(input.content!, 'base64') };
  if (input.contentType !== undefined) attachment.contentType = input.contentType;
  if (input.contentId !== undefined) attachment.contentId = input.contentId;
  return attachment;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
