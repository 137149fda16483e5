/**
 * The name of a mailbox's folder in the coordination container: the SMTP host and
 * the user it logs in as, hashed (blob names then need no escaping, and the
 * container does not list the mailboxes' addresses). Every instance, and later every
 * sender of the same mailbox, derives the same folder.
 */
import { createHash } from 'node:crypto';

export function mailboxKey(host: string, user: string): string {
  const digest = createHash('sha256').update(`${host.trim().toLowerCase()}\n${user.trim().toLowerCase()}`).digest('hex');
  return `mailbox-${digest.slice(0, 32)}`;
}
