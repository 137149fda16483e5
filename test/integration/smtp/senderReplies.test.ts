/**
 * Sender problems are sender problems (issue 10, point 3): a refusal at MAIL FROM,
 * RCPT TO or DATA that concerns the sender is `send_as_denied` or `sender_rejected`
 * with a remedy, whatever stage the server gave it at. The table holds the
 * providers' real reply texts (Postfix's smtpd_check.c, Exchange Online's and
 * Gmail's documented replies), in the shape nodemailer reports them; the end-to-end
 * tests send through the local SMTP server enforcing the Postfix and the Exchange way.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySmtpError, type SmtpErrorLike } from '../../../src/smtp/classifySmtpError';
import { remedyOf, type DiagnosisId } from '../../../src/core/diagnoses';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../../local/stack';
import { RelayHarness } from '../../support/relayHarness';

const LOGIN = 'relay@example.com';
const OTHER = 'billing@example.com';
const stamp = '[AM0PR01CA0001.eurprd01.prod.exchangelabs.com 2026-11-30T10:00:00.000Z 08DD0000000000]';

/** nodemailer's error for a refused MAIL FROM or DATA. */
function refusedAt(command: string, response: string): Error & SmtpErrorLike {
  return Object.assign(new Error(`Message failed: ${response}`), { code: 'EMESSAGE', command, response, responseCode: Number(response.slice(0, 3)) });
}

/** nodemailer's error when every RCPT TO was refused: one reply per recipient, the last one as `response`. */
function everyRecipientRefused(replies: string[]): Error & SmtpErrorLike {
  const recipients = replies.map((_, index) => `rcpt${index}@example.net`);
  return Object.assign(new Error("Can't send mail - all recipients were rejected"), {
    code: 'EENVELOPE',
    command: 'RCPT TO',
    response: replies.at(-1),
    responseCode: Number(replies.at(-1)!.slice(0, 3)),
    rejected: recipients,
    rejectedErrors: replies.map((response, index) => ({ recipient: recipients[index], response, responseCode: Number(response.slice(0, 3)) })),
  });
}

const postfixNotOwned = `553 5.7.1 <${OTHER}>: Sender address rejected: not owned by user ${LOGIN}`;

const table: Array<{ name: string; error: Error; reason: string; diagnosis: DiagnosisId }> = [
  // Postfix, reject_sender_login_mismatch (src/smtpd/smtpd_check.c), enhanced code added by smtpd.
  {
    name: 'Postfix: not owned by user, at every RCPT TO (smtpd_delay_reject=yes)',
    error: everyRecipientRefused([postfixNotOwned, postfixNotOwned]),
    reason: 'sender_rejected',
    diagnosis: 'sender_not_owned',
  },
  {
    name: 'Postfix: not owned by user, at MAIL FROM (smtpd_delay_reject=no)',
    error: refusedAt('MAIL FROM', postfixNotOwned),
    reason: 'sender_rejected',
    diagnosis: 'sender_not_owned',
  },
  {
    name: 'Postfix: not logged in as owner',
    error: everyRecipientRefused([`553 5.7.1 <${OTHER}>: Sender address rejected: not logged in as owner`]),
    reason: 'sender_rejected',
    diagnosis: 'sender_not_owned',
  },
  {
    name: 'Postfix: not logged in (the session is not authenticated)',
    error: everyRecipientRefused([`553 5.7.1 <${LOGIN}>: Sender address rejected: not logged in`]),
    reason: 'smtp_auth_not_offered',
    diagnosis: 'smtp_auth_not_offered',
  },
  {
    name: 'Postfix: reject_unknown_sender_domain with a 5xx code',
    error: everyRecipientRefused([`550 5.1.8 <x@nowhere.invalid>: Sender address rejected: Domain not found`]),
    reason: 'sender_rejected',
    diagnosis: 'sender_address_invalid',
  },
  {
    name: 'Postfix: reject_non_fqdn_sender',
    error: everyRecipientRefused([`504 5.5.2 <relay>: Sender address rejected: need fully-qualified address`]),
    reason: 'sender_rejected',
    diagnosis: 'sender_address_invalid',
  },
  {
    name: 'Postfix: check_sender_access REJECT',
    error: refusedAt('DATA', `554 5.7.1 <${OTHER}>: Sender address rejected: Access denied`),
    reason: 'sender_rejected',
    diagnosis: 'sender_refused',
  },
  // Exchange Online.
  {
    name: 'Exchange: 550 5.7.60 at MAIL FROM',
    error: refusedAt('MAIL FROM', `550 5.7.60 SMTP; Client does not have permissions to send as this sender ${stamp}`),
    reason: 'send_as_denied',
    diagnosis: 'send_as_denied',
  },
  {
    name: 'Exchange: 554 5.2.252 SendAsDenied after DATA',
    error: refusedAt(
      'DATA',
      `554 5.2.252 SendAsDenied; ${LOGIN} not allowed to send as ${OTHER}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; ` +
        `Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. ${stamp}`,
    ),
    reason: 'send_as_denied',
    diagnosis: 'send_as_denied',
  },
  // Gmail (support.google.com/a/answer/3221692, answer/6140680).
  {
    name: 'Gmail: 553 5.1.7 not a valid RFC 5321 address',
    error: refusedAt('MAIL FROM', '553 5.1.7 The sender address <sales@> is not a valid RFC 5321 address. - gsmtp'),
    reason: 'sender_rejected',
    diagnosis: 'sender_address_invalid',
  },
  {
    name: 'Gmail SMTP relay: 550 5.7.0 Mail Sending denied',
    error: everyRecipientRefused(['550 5.7.0 Mail Sending denied. - gsmtp']),
    reason: 'sender_rejected',
    diagnosis: 'sender_refused',
  },
];

describe('classifySmtpError: refusals about the sender', () => {
  for (const row of table) {
    it(`${row.name} → ${row.reason} with its remedy`, () => {
      const classified = classifySmtpError(row.error);
      assert.equal(classified.reason, row.reason);
      assert.equal(classified.remedy, remedyOf(row.diagnosis));
      assert.ok(classified.providerReply, 'the reply is kept');
    });
  }

  it('a 4xx about the sender stays temporary (DNS could not tell yet)', () => {
    const classified = classifySmtpError(everyRecipientRefused(['450 4.1.8 <x@example.org>: Sender address rejected: Domain not found']));
    assert.equal(classified.kind, 'transient');
  });

  it('recipients refused for their own reasons are still recipients_rejected', () => {
    const classified = classifySmtpError(
      everyRecipientRefused([postfixNotOwned, '550 5.1.1 <rcpt1@example.net>: Recipient address rejected: User unknown in virtual mailbox table']),
    );
    assert.equal(classified.reason, 'recipients_rejected');
  });
});

// ------------------------------------------------------------------ end to end

let stack: LocalStack;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

/** A message from `from` through the relay; returns its dead-letter record. */
async function deadLetterFrom(from: string) {
  const name = `sender-${++counter}`;
  const harness = await new RelayHarness(stack, { name, settings: { MAIL_ALLOWED_FROM: `${LOCAL_MAILBOX},${from}` } }).start();
  try {
    await harness.enqueue(name, { id: name, from, to: ['a@example.net', 'b@example.net'], subject: 'from another address', text: 'body' });
    await harness.drain(30_000);
    const result = await harness.reconcile();
    assert.equal(result.deadLettered, 1, result.summary);
    assert.equal(result.delivered, 0, result.summary);
    return result.deadLetters.get(name)![0]!;
  } finally {
    await harness.close();
  }
}

test('Postfix refusing a sender the login does not own, at every RCPT TO: sender_rejected with a remedy, not recipients_rejected', async () => {
  stack.smtpServer.enforceSender({ style: 'postfix' });
  try {
    const record = await deadLetterFrom(OTHER);
    assert.equal(record.reason, 'sender_rejected');
    assert.equal(record.remedy, remedyOf('sender_not_owned'));
    assert.match(record.providerReply ?? '', new RegExp(`^553 5\\.7\\.1 <${OTHER}>: Sender address rejected: not owned by user ${LOCAL_MAILBOX}`));
  } finally {
    stack.smtpServer.enforceSender(undefined);
  }
});

test('Exchange refusing a From without SendAs after DATA: send_as_denied with its remedy', async () => {
  stack.smtpServer.enforceSender({ style: 'exchange' });
  try {
    const record = await deadLetterFrom(OTHER);
    assert.equal(record.reason, 'send_as_denied');
    assert.equal(record.remedy, remedyOf('send_as_denied'));
    assert.match(record.providerReply ?? '', /^554 5\.2\.252 SendAsDenied; /);
  } finally {
    stack.smtpServer.enforceSender(undefined);
  }
});
