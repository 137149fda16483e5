/**
 * Which extra headers a queue message may carry. The relay writes the address,
 * identity, trace and MIME structure headers itself; letting a message set them
 * would allow spoofing the sender, hidden recipients or a broken MIME tree.
 */

/** Header names the relay owns (compared case-insensitively); any Content-* header is owned as well. */
export const OWNED_HEADER_NAMES: readonly string[] = [
  'From',
  'To',
  'Cc',
  'Bcc',
  'Reply-To',
  'Subject',
  'Message-ID',
  'Date',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Sender',
  'Return-Path',
  'Received',
  'DKIM-Signature',
];

const OWNED = new Set(OWNED_HEADER_NAMES.map((name) => name.toLowerCase()));

export function isOwnedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return OWNED.has(lower) || lower.startsWith('content-');
}
