/**
 * How every SMTP connection of the relay is made: host, port, TLS mode, trusted
 * CAs and timeouts. The sender's pool and the doctor's probe both use it, so
 * the probe reaches the server exactly the way mail is sent.
 */
import net from 'node:net';
import type { SmtpSettings } from '../settings';
import { outboundTlsOptions } from '../transport/tls';

export function smtpConnectionOptions(smtp: SmtpSettings) {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'implicit',
    // STARTTLS is required: no fallback to a clear-text session.
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: false,
    opportunisticTLS: false,
    tls: {
      // The relay's one TLS policy: trusted CAs (one shared context with an extra CA) and TLS 1.2 at least.
      ...outboundTlsOptions(smtp.extraCa),
      rejectUnauthorized: true,
      // SNI needs a host name; for an IP address Node checks the certificate against the IP.
      ...(net.isIP(smtp.host) ? {} : { servername: smtp.host }),
    },
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.greetingTimeoutMs,
    socketTimeout: smtp.socketTimeoutMs,
  };
}
