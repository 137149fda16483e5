/**
 * What the settings know about Gmail's SMTP submission and its limits in Google Workspace
 * ("Gmail sending limits in Google Workspace", support.google.com/a/answer/166852, read
 * 2026-12-02): 2,000 messages a day per user, 10,000 recipients a day in total, 100
 * recipients per message sent via SMTP by POP or IMAP users (smtp.gmail.com is such a
 * submission), 25 MB per message; no per-minute rate is published. Past a limit Gmail
 * stops the user from sending for up to 24 hours.
 */

export const GMAIL_SMTP_HOST = 'smtp.gmail.com';
/** The scope Gmail's SMTP XOAUTH2 needs (https://developers.google.com/gmail/imap/xoauth2-protocol). */
export const GMAIL_SCOPE = 'https://mail.google.com/';
/** Workspace: total recipients per user in a rolling 24 hours. */
export const GMAIL_RECIPIENTS_PER_DAY = 10_000;
/** Workspace: recipients (to + cc + bcc) per message sent via SMTP. */
export const GMAIL_RECIPIENT_LIMIT = 100;

export function isGmailSmtpHost(host: string): boolean {
  return host.toLowerCase() === GMAIL_SMTP_HOST;
}
