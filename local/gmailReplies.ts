/**
 * Gmail's final XOAUTH2 refusal for the local SMTP server's Gmail front. smtp-server answers the
 * client's empty line after its 334 challenge with its own fixed `535 Error: Username and Password
 * not accepted`; Gmail answers (https://developers.google.com/gmail/imap/xoauth2-protocol, SMTP):
 *   535-5.7.8 Username and Password not accepted. Learn more at
 *   535 5.7.8  https://support.google.com/mail/?p=BadCredentials <id> - gsmtp
 * smtp-server looks its SASL step up on a shared object each time, so the step is replaced once,
 * for the servers that ask for Gmail's replies only (the option is read per connection).
 */
import { createRequire } from 'node:module';

type XOAuth2ErrorStep = (
  this: { _server: { options: { gmailReplies?: boolean } }; send(code: number, data: string | string[]): void },
  data: unknown,
  done: () => void,
) => void;

let installed = false;

export const GMAIL_BAD_CREDENTIALS = [
  '5.7.8 Username and Password not accepted. Learn more at',
  '5.7.8  https://support.google.com/mail/?p=BadCredentials local-double - gsmtp',
];

export function installGmailXoauth2Error(): void {
  if (installed) return;
  installed = true;
  const sasl = createRequire(__filename)('smtp-server/lib/sasl.js') as { XOAUTH2_error: XOAuth2ErrorStep };
  const original = sasl.XOAUTH2_error;
  sasl.XOAUTH2_error = function (data, done) {
    if (!this._server.options.gmailReplies) return original.call(this, data, done);
    this.send(535, GMAIL_BAD_CREDENTIALS);
    return done();
  };
}
