/** The mail section: the authorized mailbox, the senders a message may use, the recipient limit. */
import { splitList } from './formats';
import { EXCHANGE_RECIPIENT_LIMIT, isMicrosoftSmtpHost } from './microsoft';
import type { SettingsReader } from './reader';
import { SETTINGS } from './spec';
import type { MailSettings, SmtpSettings } from './types';

/** Undefined when SMTP_USER is missing or wrong (reported). */
export function readMail(reader: SettingsReader, smtp: SmtpSettings): MailSettings | undefined {
  const user = reader.emailAddress('SMTP_USER', reader.required('SMTP_USER', 'the authorized mailbox (its user principal name)'));
  const fromSetting = reader.emailAddress('MAIL_FROM', reader.get('MAIL_FROM'));
  const allowedText = reader.get('MAIL_ALLOWED_FROM');
  const allowedFrom: string[] = [];
  for (const address of allowedText === undefined ? [] : splitList(allowedText)) {
    if (reader.emailAddress('MAIL_ALLOWED_FROM', address) !== undefined) allowedFrom.push(address.toLowerCase());
  }
  const maxRecipients = reader.integer('MAIL_MAX_RECIPIENTS') ?? SETTINGS.MAIL_MAX_RECIPIENTS.default.rule({ host: smtp.host });
  if (isMicrosoftSmtpHost(smtp.host) && maxRecipients > EXCHANGE_RECIPIENT_LIMIT) {
    reader.report('MAIL_MAX_RECIPIENTS', `${maxRecipients} exceeds the ${EXCHANGE_RECIPIENT_LIMIT} recipients per message Exchange Online accepts`);
  }
  if (user === undefined) return undefined;
  const from = fromSetting ?? SETTINGS.MAIL_FROM.default.rule({ user });
  return { user, from, allowedFrom, maxRecipients };
}
