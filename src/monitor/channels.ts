/**
 * Optional alert channels: an e-mail sent through the relay itself, and an
 * incoming webhook (Teams and Slack both accept a JSON body with "text").
 */
import https from 'node:https';
import type { SendMailOptions } from 'nodemailer';
import { redact } from '../core/redact';
import { outboundHttpsAgent } from '../transport/tls';
import { alertText, type AlertChannel } from './alerts';

export function emailChannel(sender: { send(mail: SendMailOptions): Promise<unknown> }, from: string, to: string): AlertChannel {
  return {
    name: 'email',
    async deliver(alert) {
      await sender.send({
        from,
        to,
        subject: `[oauth2-smtp-relay] ${alert.severity}: ${alert.summary}`,
        text: alertText(alert),
        headers: { 'X-Relay-Alert': alert.name },
      });
    },
  };
}

/** The whole exchange (connect, TLS, request, answer): a webhook that trickles its answer must not hold the timer function. */
export const WEBHOOK_DEADLINE_MS = 10_000;

export function webhookChannel(url: string, extraCa?: string, deadlineMs = WEBHOOK_DEADLINE_MS): AlertChannel {
  // The URL itself is a secret (it authorizes posting): errors name only the host.
  const host = new URL(url).host;
  return {
    name: 'webhook',
    deliver(alert) {
      const body = JSON.stringify({ text: alertText(alert), alert: alert.name, severity: alert.severity });
      return new Promise<void>((resolve, reject) => {
        const request = https.request(url, {
          method: 'POST',
          agent: outboundHttpsAgent(extraCa),
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        });
        let late: Error | undefined;
        const deadline = setTimeout(() => {
          late = new Error(`no complete answer within ${deadlineMs} ms`);
          request.destroy(late);
        }, deadlineMs);
        const settle = (error?: Error) => {
          clearTimeout(deadline);
          // Past the deadline the socket's own error ("aborted") would hide why it was cut.
          const cause = late ?? error;
          if (cause) reject(new Error(`webhook ${host}: ${redact(cause.message)}`));
          else resolve();
        };
        request.on('error', settle);
        request.on('response', (response) => {
          response.resume();
          // A destroyed request ends its response with an error (or 'aborted'), never with 'end'.
          response.on('error', settle);
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) settle();
            else settle(new Error(`answered HTTP ${status}`));
          });
        });
        request.end(body);
      });
    },
  };
}
