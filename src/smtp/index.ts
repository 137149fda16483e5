/** Sending over SMTP (nodemailer pool, XOAUTH2 or password) and classifying its failures. */
export { createMailSender, type MailSender, type MailSenderOptions, type MailSenderStats, type SendResult } from './mailSender';
export { classifySmtpError, parseSmtpReply, type SmtpErrorLike, type SmtpReply } from './classifySmtpError';
