/** What the settings know about Microsoft's clouds and Exchange Online's limits. */

export const MICROSOFT_AUTHORITY_HOSTS: ReadonlySet<string> = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

const MICROSOFT_SMTP_HOSTS: ReadonlySet<string> = new Set(['smtp.office365.com', 'smtp-mail.outlook.com', 'smtp.office365.us', 'smtp.partner.outlook.cn']);

/** Exchange Online's concurrent SMTP connections per mailbox. */
export const EXCHANGE_POOL_LIMIT = 3;
/** Exchange Online's sending rate per mailbox. */
export const EXCHANGE_MESSAGES_PER_MINUTE = 30;
/** Exchange Online's recipients per mailbox in a rolling 24 hours, past which it blocks the mailbox for up to 24 hours. */
export const EXCHANGE_RECIPIENTS_PER_DAY = 10_000;
/** Exchange Online's recipients (to + cc + bcc) per message. */
export const EXCHANGE_RECIPIENT_LIMIT = 500;

/** Whether SMTP_HOST is an Exchange Online submission host, whose limits then apply. */
export function isMicrosoftSmtpHost(host: string): boolean {
  return MICROSOFT_SMTP_HOSTS.has(host.toLowerCase());
}
