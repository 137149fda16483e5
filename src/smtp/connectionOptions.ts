/**
 * How every SMTP connection of the relay is made: host, port, TLS mode, trusted
 * CAs and timeouts. The sender's pool and the doctor's probe both use it, so
 * the probe reaches the server exactly the way mail is sent.
 */
import net from 'node:net';
import type { SmtpSettings } from '../config';
import { sharedSecureContext } from '../token/trust';

export function smtpConnectionOptions(smtp: SmtpSettings) {
  const secureContext = sharedSecureContext(smtp.extraCa);
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'implicit',
    // STARTTLS is required: no fallback to a clear-text session.
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: false,
    opportunisticTLS: false,
    tls: {
      // With an extra CA, one context (the CAs and the minimum version) for every connection.
      ...(secureContext ? { secureContext } : {}),
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: true,
      // SNI needs a host name; for an IP address Node checks the certificate against the IP.
      ...(net.isIP(smtp.host) ? {} : { servername: smtp.host }),
    },
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.greetingTimeoutMs,
    socketTimeout: smtp.socketTimeoutMs,
  };
}
