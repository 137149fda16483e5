/**
 * Reaches the SMTP server the way the sender does (same host, port, TLS mode,
 * trusted CAs, certificate checks) and stops before authenticating, telling
 * apart "cannot connect" from "cannot secure the connection". The checks use it
 * when there is no token to log in with; otherwise the sender's own login
 * answers the same questions in the same session. Nothing is sent.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmtpSettings } from '../settings';
import { classifySmtpError } from './index';
import type { RelayError } from '../core/errors';
import { smtpConnectionOptions } from './connectionOptions';

export interface SmtpProbeResult {
  /** The server answered (false when nothing came back: refused, unknown host, timeout). */
  connected: boolean;
  /** The session was encrypted (STARTTLS completed, or implicit TLS). */
  secured: boolean;
  /** The server advertised AUTH on the secured session. */
  authOffered: boolean;
  /** The server's greeting or last reply, for the report. */
  lastReply?: string;
  failure?: RelayError;
}

export async function probeSmtp(smtp: SmtpSettings): Promise<SmtpProbeResult> {
  const connection = new SMTPConnection({
    ...smtpConnectionOptions(smtp),
    logger: false,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    connection.close();
    const failure = classifySmtpError(error);
    // A TLS failure means the server was reached: STARTTLS (or the implicit handshake) is what broke.
    const reached = failure.reason === 'smtp_tls_failed' || failure.providerReply !== undefined;
    return { connected: reached, secured: false, authOffered: false, failure, lastReply: failure.providerReply };
  }
  const result: SmtpProbeResult = {
    connected: true,
    secured: connection.secure,
    authOffered: connection.allowsAuth,
    lastReply: typeof connection.lastServerResponse === 'string' ? connection.lastServerResponse : undefined,
  };
  connection.quit();
  connection.close();
  return result;
}
