/**
 * What "the same message" means for the delivery ledger: a SHA-256 over the
 * normalised RelayMessage, i.e. over what the relay would send. A redelivery or
 * retry copy of a message gives the same digest; a different message that
 * reuses its `id` does not (an id conflict, see src/relay/handler.ts).
 *
 * Normalised, not raw: JSON whitespace, key order, plain JSON versus base64
 * text, and "Name <a@b>" versus { name, address } do not change it; headers
 * are taken in name order. The default sender (MAIL_FROM, for a message without
 * `from`) counts as "the default", not as its address: fixing MAIL_FROM and
 * replaying does not make a message conflict with itself. Covered: id, from, to, cc, bcc, replyTo, subject,
 * text, html, headers, and per attachment its filename, content type,
 * content id and either its bytes (inline content) or its blob's *name*
 * (attachments sent by reference). A blob's bytes are not read for this: the
 * digest is taken before the send, on the hot path, and reading a 1 MB blob
 * twice would double its cost. So replacing a blob's bytes under the same
 * name is not seen as a different message.
 */
import { createHash, type Hash } from 'node:crypto';
import { addressKey } from '../message/address';
import type { Mailbox, RelayMessage } from '../message/types';

/** Bumped whenever the fields or their encoding change; entries with another version are not compared. */
export const DIGEST_VERSION = 'rm1';

/** `defaultFrom` is MAIL_FROM, which a message without `from` is sent as. */
export function messageDigest(message: RelayMessage, defaultFrom?: string): string {
  const hash = createHash('sha256');
  // Each part is a JSON value (self-delimiting); byte content is preceded by its length.
  const part = (value: unknown) => hash.update(JSON.stringify(value) + '\n', 'utf8');
  part(DIGEST_VERSION);
  const isDefault = defaultFrom !== undefined && message.from.name === undefined && addressKey(message.from.address) === addressKey(defaultFrom);
  part([
    message.id ?? null,
    isDefault ? 'default-from' : mailbox(message.from),
    message.to.map(mailbox),
    message.cc.map(mailbox),
    message.bcc.map(mailbox),
    message.replyTo.map(mailbox),
  ]);
  part([message.subject ?? null, message.text ?? null, message.html ?? null]);
  part(Object.entries(message.headers).sort(([a], [b]) => byName(a, b)));
  for (const attachment of message.attachments) {
    const described = [attachment.filename, attachment.contentType ?? null, attachment.contentId ?? null];
    if ('blob' in attachment) part([...described, 'blob', attachment.blob]);
    else bytes(hash, part, described, attachment.content);
  }
  return `${DIGEST_VERSION}:sha256:${hash.digest('hex')}`;
}

/** Whether two digests can be compared (same version); an entry written by another version is taken as matching. */
export function sameDigestVersion(a: string, b: string): boolean {
  return a.slice(0, a.indexOf(':')) === b.slice(0, b.indexOf(':'));
}

function mailbox(value: Mailbox): [string | null, string] {
  return [value.name ?? null, value.address];
}

/** Header names compare case-insensitively (code point order, not locale). */
function byName(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function bytes(hash: Hash, part: (value: unknown) => void, described: unknown[], content: unknown): void {
  // Taken before attachments are fetched: inline content is then a Buffer (decoded from the message's base64).
  if (!Buffer.isBuffer(content)) throw new Error('messageDigest: take the digest before blob attachments are fetched');
  part([...described, 'bytes', content.length]);
  hash.update(content);
}
