import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifySmtpError, parseSmtpReply, type SmtpErrorLike } from '../../../src/smtp/classifySmtpError';
import { RelayError } from '../../../src/core/errors';

/** An error shaped the way nodemailer's SMTP connection builds it (_formatError). */
function smtpError(code: string, command: string, response?: string, extra: Partial<SmtpErrorLike> = {}): Error & SmtpErrorLike {
  const error = new Error(response ? `failed: ${response}` : 'failed') as Error & SmtpErrorLike;
  error.code = code;
  error.command = command;
  if (response) {
    error.response = response;
    error.responseCode = Number(response.slice(0, 3));
  }
  return Object.assign(error, extra);
}

const stamp = '[AM0PR01CA0001.eurprd01.prod.exchangelabs.com 2026-11-30T10:00:00.000Z 08DD0000000000]';

describe('classifySmtpError: Exchange Online replies', () => {
  const table: Array<{ name: string; error: Error; reason: string; kind: string; remedy?: RegExp }> = [
    {
      name: '535 5.7.3 token refused',
      error: smtpError('EAUTH', 'AUTH XOAUTH2', `535 5.7.3 Authentication unsuccessful ${stamp}`),
      reason: 'smtp_auth_rejected',
      kind: 'configuration',
      remedy: /SMTP\.SendAsApp.*service principal.*FullAccess.*hour/,
    },
    {
      name: '535 5.7.139 SMTP AUTH disabled',
      error: smtpError(
        'EAUTH',
        'AUTH XOAUTH2',
        `535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. ${stamp}`,
      ),
      reason: 'smtp_auth_disabled',
      kind: 'configuration',
      remedy: /Manage email apps.*Authenticated SMTP/,
    },
    {
      name: '530 5.7.57 not authenticated',
      error: smtpError('EENVELOPE', 'MAIL FROM', `530 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 ${stamp}`),
      reason: 'smtp_auth_not_offered',
      kind: 'configuration',
    },
    {
      name: 'AUTH command unknown',
      error: smtpError('EAUTH', 'AUTH XOAUTH2', '502 5.5.2 Error: command not recognized'),
      reason: 'smtp_auth_not_offered',
      kind: 'configuration',
    },
    {
      name: '550 5.7.60 send as denied',
      error: smtpError('EENVELOPE', 'MAIL FROM', `550 5.7.60 SMTP; Client does not have permissions to send as this sender ${stamp}`),
      reason: 'send_as_denied',
      kind: 'permanent',
      remedy: /Send As/,
    },
    {
      name: '554 5.2.252 SendAsDenied',
      error: smtpError(
        'EMESSAGE',
        'DATA',
        `554 5.2.252 SendAsDenied; relay@contoso.com not allowed to send as boss@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message. ${stamp}`,
      ),
      reason: 'send_as_denied',
      kind: 'permanent',
    },
    {
      name: '430 4.2.0 STOREDRV mailbox logon failure',
      error: smtpError('EMESSAGE', 'DATA', `430 4.2.0 STOREDRV.ClientSubmit; mailbox logon failure ${stamp}`),
      reason: 'mailbox_logon_failed',
      kind: 'configuration',
      remedy: /licensed/,
    },
    {
      name: '432 4.3.2 connection limit',
      error: smtpError('EENVELOPE', 'MAIL FROM', `432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded ${stamp}`),
      reason: 'smtp_throttled',
      kind: 'transient',
    },
    {
      name: '421 4.7.0 at the greeting',
      error: smtpError('EPROTOCOL', 'CONN', `421 4.7.0 Temporary server error. Please try again later. PRX4 ${stamp}`),
      reason: 'smtp_throttled',
      kind: 'transient',
    },
    {
      name: '554 5.2.0 SubmissionQuotaExceeded',
      error: smtpError(
        'EMESSAGE',
        'DATA',
        `554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message. ${stamp}`,
      ),
      reason: 'quota_exceeded',
      kind: 'transient',
    },
    {
      name: '552 5.3.4 too large',
      error: smtpError('EMESSAGE', 'DATA', '552 5.3.4 Message size exceeds fixed maximum message size'),
      reason: 'message_too_large',
      kind: 'permanent',
      remedy: /35 MB/,
    },
    {
      name: 'other 5xx on MAIL FROM',
      error: smtpError('EENVELOPE', 'MAIL FROM', '501 5.1.7 Invalid address'),
      reason: 'sender_rejected',
      kind: 'permanent',
    },
    {
      name: 'server busy 451 4.7.x (throttling)',
      error: smtpError('EMESSAGE', 'DATA', '451 4.7.500 Server busy. Please try again later.'),
      reason: 'smtp_throttled',
      kind: 'transient',
    },
    {
      name: '452 at DATA (throttling)',
      error: smtpError('EMESSAGE', 'DATA', '452 4.3.1 Insufficient system resources'),
      reason: 'smtp_throttled',
      kind: 'transient',
    },
    {
      name: 'other 4xx',
      error: smtpError('EMESSAGE', 'DATA', '451 4.3.0 Mail server temporarily rejected message'),
      reason: 'smtp_transient_failure',
      kind: 'transient',
    },
    {
      name: 'other 5xx after DATA',
      error: smtpError('EMESSAGE', 'DATA', '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.'),
      reason: 'smtp_permanent_failure',
      kind: 'permanent',
    },
    {
      name: '5xx at the greeting (the session, not the message)',
      error: smtpError('EPROTOCOL', 'CONN', '554 5.7.1 Client host blocked'),
      reason: 'smtp_permanent_failure',
      kind: 'configuration',
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const classified = classifySmtpError(row.error);
      assert.equal(classified.reason, row.reason);
      assert.equal(classified.kind, row.kind);
      assert.equal(classified.providerReply, (row.error as SmtpErrorLike).response);
      if (row.remedy) assert.match(classified.remedy ?? '', row.remedy);
    });
  }
});

describe('classifySmtpError: recipients', () => {
  const rejected = (recipient: string, response: string) => ({ recipient, response, responseCode: Number(response.slice(0, 3)) });

  it('every recipient rejected permanently → recipients_rejected (permanent), every reply reported', () => {
    const error = smtpError('EENVELOPE', 'RCPT TO', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient b@example.com not found by SMTP address lookup', {
      rejected: ['a@example.com', 'b@example.com'],
      rejectedErrors: [
        rejected('a@example.com', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient a@example.com not found by SMTP address lookup'),
        rejected('b@example.com', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient b@example.com not found by SMTP address lookup'),
      ],
    });
    const classified = classifySmtpError(error);
    assert.equal(classified.reason, 'recipients_rejected');
    assert.equal(classified.kind, 'permanent');
    assert.equal(classified.providerReply?.split('\n').length, 2);
  });

  it('every recipient deferred (4xx) → transient', () => {
    const error = smtpError('EENVELOPE', 'RCPT TO', '451 4.4.0 DNS temporary failure', {
      rejected: ['a@example.com'],
      rejectedErrors: [rejected('a@example.com', '451 4.4.0 DNS temporary failure')],
    });
    const classified = classifySmtpError(error);
    assert.equal(classified.kind, 'transient');
    assert.equal(classified.reason, 'smtp_transient_failure');
  });

  it('a mix of permanent and temporary rejections is retried (some recipients may still get it)', () => {
    const error = smtpError('EENVELOPE', 'RCPT TO', '452 4.5.3 Too many recipients', {
      rejectedErrors: [rejected('a@example.com', '550 5.1.1 unknown'), rejected('b@example.com', '452 4.5.3 Too many recipients')],
    });
    assert.equal(classifySmtpError(error).kind, 'transient');
  });
});

describe('classifySmtpError: connection failures (no reply)', () => {
  const socketError = (code: string, originalCode: string, message: string) => Object.assign(new Error(message), { code, originalCode, command: 'CONN' });
  const table = [
    {
      name: 'connection refused',
      error: socketError('ESOCKET', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:587'),
      reason: 'smtp_unreachable',
      kind: 'transient',
    },
    {
      name: 'DNS',
      error: Object.assign(new Error('getaddrinfo ENOTFOUND smtp.office365.test'), { code: 'EDNS', command: 'CONN' }),
      reason: 'smtp_unreachable',
      kind: 'transient',
    },
    {
      name: 'connection timeout',
      error: Object.assign(new Error('Connection timeout'), { code: 'ETIMEDOUT', command: 'CONN' }),
      reason: 'smtp_timeout',
      kind: 'transient',
    },
    {
      name: 'greeting timeout',
      error: Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT', command: 'CONN' }),
      reason: 'smtp_timeout',
      kind: 'transient',
    },
    {
      name: 'STARTTLS certificate failure',
      error: Object.assign(new Error('Error initiating TLS - unable to verify the first certificate'), { code: 'ETLS', command: 'STARTTLS' }),
      reason: 'smtp_tls_failed',
      kind: 'configuration',
    },
    {
      name: 'implicit TLS certificate failure',
      error: socketError('ESOCKET', 'CERT_HAS_EXPIRED', 'certificate has expired'),
      reason: 'smtp_tls_failed',
      kind: 'configuration',
    },
    {
      name: 'host name mismatch',
      error: socketError('ESOCKET', 'ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      reason: 'smtp_tls_failed',
      kind: 'configuration',
    },
    { name: 'connection reset', error: socketError('ESOCKET', 'ECONNRESET', 'read ECONNRESET'), reason: 'smtp_transient_failure', kind: 'transient' },
    {
      name: 'closed unexpectedly',
      error: Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION', command: 'CONN' }),
      reason: 'smtp_transient_failure',
      kind: 'transient',
    },
    {
      name: 'SIZE announced by the server',
      error: Object.assign(new Error('Message size larger than allowed 36700160'), { code: 'EMESSAGE', command: 'MAIL FROM' }),
      reason: 'message_too_large',
      kind: 'permanent',
    },
    {
      name: 'no recipients',
      error: Object.assign(new Error('No recipients defined'), { code: 'EENVELOPE', command: 'API' }),
      reason: 'invalid_message',
      kind: 'permanent',
    },
    { name: 'unknown error', error: new Error('something odd'), reason: 'smtp_transient_failure', kind: 'transient' },
  ];
  for (const row of table) {
    it(row.name, () => {
      const classified = classifySmtpError(row.error);
      assert.equal(classified.reason, row.reason);
      assert.equal(classified.kind, row.kind);
    });
  }

  it('a RelayError (e.g. a token failure during AUTH) passes through unchanged', () => {
    const tokenFailure = new RelayError('no token', { reason: 'invalid_client_secret', kind: 'configuration' });
    Object.assign(tokenFailure, { code: 'EAUTH', command: 'AUTH XOAUTH2' }); // what nodemailer adds
    assert.equal(classifySmtpError(tokenFailure), tokenFailure);
  });

  it('masks tokens that a reply might echo', () => {
    const xoauth = Buffer.from('user=relay@contoso.com\u0001auth=Bearer abc.def.ghi\u0001\u0001').toString('base64');
    const classified = classifySmtpError(smtpError('EAUTH', 'AUTH XOAUTH2', `535 5.7.3 Authentication unsuccessful ${xoauth}`));
    assert.ok(!classified.providerReply?.includes(xoauth));
  });
});

describe('parseSmtpReply', () => {
  it('reads the code and the enhanced status code', () => {
    assert.deepEqual(parseSmtpReply('535 5.7.3 Authentication unsuccessful'), { code: 535, enhanced: '5.7.3', text: '535 5.7.3 Authentication unsuccessful' });
    assert.deepEqual(parseSmtpReply('250-first\r\n250 last'), { code: 250, enhanced: undefined, text: '250-first\r\n250 last' });
    assert.equal(parseSmtpReply('not a reply'), undefined);
    assert.equal(parseSmtpReply(undefined), undefined);
  });
});
