/**
 * Optional alert channels: an e-mail sent through the relay itself, and an
 * incoming webhook (Teams and Slack both accept a JSON body with "text").
 */
import https from 'node:https';
import type { SendMailOptions } from 'nodemailer';
import { redact } from '../redact';
import { trustedCertificates } from '../token/trust';
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

const WEBHOOK_TIMEOUT_MS = 10_000;

export function webhookChannel(url: string, extraCa?: string): AlertChannel {
  return {
    name: 'webhook',
    deliver(alert) {
      const body = JSON.stringify({ text: alertText(alert), alert: alert.name, severity: alert.severity });
      return new Promise<void>((resolve, reject) => {
        const request = https.request(url, {
          method: 'POST',
          ca: trustedCertificates(extraCa),
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: WEBHOOK_TIMEOUT_MS,
        });
        request.on('timeout', () => request.destroy(new Error(`the webhook did not answer within ${WEBHOOK_TIMEOUT_MS} ms`)));
        // The URL itself is a secret (it authorizes posting): errors name only the host.
        const host = new URL(url).host;
        request.on('error', (error) => reject(new Error(`webhook ${host}: ${redact(error.message)}`)));
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`webhook ${host} answered HTTP ${status}`));
          });
        });
        request.end(body);
      });
    },
  };
}
