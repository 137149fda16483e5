/** Diagnoses and remedies of the SMTP server: connection, authentication, transaction. */
import { MANAGE_EMAIL_APPS, type Diagnosis, type Remedy } from './entry';

export const SMTP_DIAGNOSES = {
  // -------------------------------------------------------- SMTP connection
  smtp_unreachable: {
    symptom: 'DNS failure, connection refused or unreachable host for SMTP_HOST:SMTP_PORT',
    finding: 'The SMTP server could not be reached.',
    steps: ['emailServer', 'network'],
    fix: 'Check SMTP_HOST and SMTP_PORT (smtp.office365.com, 587), and that outbound connections to that port are allowed from the Function App.',
  },
  smtp_timeout: {
    symptom: 'the SMTP server does not answer in time',
    finding: 'The connection to the SMTP server timed out: blocked by a firewall, or the server is slow.',
    steps: ['emailServer', 'network'],
    fix: 'Check that outbound connections to SMTP_HOST:SMTP_PORT are allowed; messages are retried meanwhile.',
  },
  smtp_tls_failed: {
    symptom: 'STARTTLS or the TLS handshake fails, or the certificate is not trusted',
    finding: 'A secure connection to the SMTP server could not be set up.',
    steps: ['emailServer', 'network'],
    fix:
      'Check that SMTP_HOST is the name on the server certificate and that SMTP_SECURITY matches the port (starttls for 587, implicit for 465); ' +
      'if a TLS-inspecting proxy or a private CA is in the way, put its CA in TLS_EXTRA_CA_FILE. Certificate checks are never switched off.',
  },
  smtp_session_refused: {
    symptom: 'a 5xx reply to the connection, EHLO or STARTTLS',
    finding: 'The server refused the SMTP session before any message was sent.',
    steps: ['emailServer'],
    fix: 'Check SMTP_HOST, SMTP_PORT and SMTP_SECURITY.',
  },
  smtp_auth_not_offered: {
    symptom: 'the server offers no AUTH XOAUTH2, or 530 5.7.57',
    finding: 'The server did not offer or accept authentication, so nothing was sent (the relay never sends unauthenticated).',
    steps: ['emailServer', 'authenticatedSmtp'],
    fix:
      'Check SMTP_HOST, SMTP_PORT and SMTP_SECURITY (smtp.office365.com, 587, starttls) and that SMTP AUTH is enabled for the tenant and ' +
      `the mailbox (${MANAGE_EMAIL_APPS} → Authenticated SMTP).`,
  },
  // ---------------------------------------------------- SMTP authentication
  smtp_auth_disabled: {
    symptom: '535 5.7.139',
    finding: 'Authenticated SMTP (SMTP AUTH) is turned off for the mailbox or for the whole tenant.',
    steps: ['authenticatedSmtp'],
    fix:
      `Turn on Authenticated SMTP for the mailbox (${MANAGE_EMAIL_APPS} → Authenticated SMTP) and make sure SMTP AUTH is not ` +
      'turned off for the whole organisation (Exchange admin center → Settings → Mail flow).',
  },
  basic_auth_unsupported: {
    symptom: '550 5.7.30 Basic authentication is not supported for Client Submission',
    finding: 'Exchange Online no longer accepts a password for SMTP AUTH (basic authentication is retired); only OAuth2 works.',
    steps: ['apiPermission', 'clientSecret', 'servicePrincipal', 'mailboxPermission', 'oauthSettings'],
    fix:
      'Switch the relay to OAuth2: follow the setup guide (the app with SMTP.SendAsApp and admin consent, a client secret, the Exchange service ' +
      'principal and mailbox permission), set OAUTH2_TENANT_ID, OAUTH2_CLIENT_ID and the client secret (OAUTH2_CLIENT_SECRET or Key Vault), ' +
      'and remove SMTP_PASSWORD.',
  },
  smtp_auth_rejected: {
    symptom: '535 5.7.3 with a token the relay cannot read (not a Microsoft Entra JWT), or a refused password',
    finding: 'Exchange refused the login and the token could not be decoded to tell which step is missing.',
    steps: ['apiPermission', 'oauthSettings', 'servicePrincipal', 'mailboxPermission'],
    fix:
      'Exchange refused the token. Check, in this order: the app has the application permission Office 365 Exchange Online → ' +
      'SMTP.SendAsApp with admin consent, and OAUTH2_SCOPES is https://outlook.office365.com/.default (or https://outlook.office.com/.default); ' +
      "Exchange has a service principal for the app (New-ServicePrincipal with the Object ID of the app's Enterprise application, " +
      'not of the app registration); the app has FullAccess on SMTP_USER (Add-MailboxPermission). New permissions can take up to an hour to apply. ' +
      'Run the doctor to see which one it is.',
  },
  exchange_access_missing: {
    symptom: '535 5.7.3 with a token whose audience, roles, tenant and app are right',
    finding:
      'The token is right, so Exchange does not connect it to the mailbox. Most likely first: the Exchange service principal is missing or was made ' +
      'with the wrong object ID; then the mailbox permission is missing; then Authenticated SMTP is off for the mailbox; or the change is still propagating.',
    steps: ['servicePrincipal', 'mailboxPermission', 'authenticatedSmtp', 'authorizedUser'],
    fix:
      'In this order. 1) In Exchange Online PowerShell, Get-ServicePrincipal must list the app; if not, run New-ServicePrincipal with -AppId = OAUTH2_CLIENT_ID and ' +
      "-ObjectId = the Object ID shown on the Enterprise application's Overview (Enterprise applications → <app>), not the app registration's Object ID " +
      '(if it was made with the wrong one, Remove-ServicePrincipal and create it again). 2) Add-MailboxPermission -Identity <SMTP_USER> -User <that service principal> ' +
      `-AccessRights FullAccess, on a licensed mailbox. 3) Turn on Authenticated SMTP for SMTP_USER (${MANAGE_EMAIL_APPS} → Authenticated SMTP). ` +
      '4) Exchange can take up to an hour to apply new service principals and permissions: if you just made them, wait; messages are retried meanwhile.',
  },
  mailbox_logon_failed: {
    symptom: '430 4.2.0 STOREDRV (mailbox logon failure)',
    finding: 'Exchange accepted the app but could not open the mailbox.',
    steps: ['authorizedUser', 'mailboxPermission'],
    fix:
      "Exchange could not open SMTP_USER's mailbox: make sure it is a licensed (or shared) mailbox that exists in Exchange Online " +
      "and that the app's service principal has FullAccess on it (Add-MailboxPermission).",
  },
  // --------------------------------------------------------- SMTP transaction
  send_as_denied: {
    symptom: '550 5.7.60 or 554 5.2.252 SendAsDenied',
    finding: 'The From address is not the authorized mailbox and the app has no SendAs right on it.',
    steps: ['fromAddress', 'sendAs'],
    fix:
      "Send from the authorized mailbox (MAIL_FROM, SMTP_USER), or grant the app's Exchange service principal Send As on the " +
      'From address (Add-RecipientPermission -Identity <address> -Trustee <service principal> -AccessRights SendAs) and list it in MAIL_ALLOWED_FROM.',
  },
  sender_not_owned: {
    symptom: "553 5.7.1 <address>: Sender address rejected: not owned by user … (Postfix's reject_sender_login_mismatch), at MAIL FROM or at every RCPT TO",
    finding: 'The server does not let SMTP_USER send with this From address.',
    steps: ['fromAddress'],
    fix:
      "Send from an address SMTP_USER owns (MAIL_FROM, or a message's from listed in MAIL_ALLOWED_FROM that the login may use), or have the server's " +
      'administrator allow this address for the login (Postfix: smtpd_sender_login_maps).',
  },
  sender_address_invalid: {
    symptom: 'a 5xx with 5.1.7 or 5.1.8 for the sender, or "Sender address rejected: Domain not found" / "need fully-qualified address"',
    finding: 'The server refused the sender address itself: its syntax, or a domain it cannot find.',
    steps: ['fromAddress'],
    fix: "Check MAIL_FROM and the message's from: a complete address (local part and domain) whose domain exists in DNS.",
  },
  sender_refused: {
    symptom: 'another 5xx refusal of the sender (MAIL FROM refused, or "Sender address rejected: …" at RCPT TO or DATA)',
    finding: "The server's policy refuses this sender for this login.",
    steps: ['fromAddress'],
    fix: "Check MAIL_FROM and the message's from against the addresses the server allows SMTP_USER to send as; the provider reply says which rule refused it.",
  },
  smtp_throttled: {
    symptom: '432 4.3.2 (too many connections)',
    finding: 'Exchange is throttling this mailbox.',
    steps: ['emailServer'],
    fix:
      'Exchange Online allows 3 concurrent connections and 30 messages a minute per mailbox: keep SMTP_POOL_SIZE at 3 or less and ' +
      'RELAY_LIMITS_SCOPE=app (the default), which holds them for all instances together; with RELAY_LIMITS_SCOPE=instance, ' +
      'limit how many function instances send at once.',
  },
  quota_exceeded: {
    symptom: '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException',
    finding: 'The mailbox reached its daily limit (Exchange Online: 10,000 recipients in 24 hours) and may not send for up to 24 hours.',
    steps: [],
    fix:
      'Nothing to fix now: the relay pauses this mailbox for an hour at a time and then tries one message, until the block lifts; the other messages ' +
      'wait in the queue. A message still blocked RELAY_RETRY_MAX_AGE_SECONDS after it was queued is dead-lettered as quota_exceeded (replay it). ' +
      'If it happens regularly, spread the mail over several mailboxes or send to fewer recipients.',
  },
  daily_limit: {
    symptom: 'daily_limit: the relay held messages back to stay under the daily recipient limit',
    finding:
      'The mailbox has sent to as many recipients within the rolling day as SMTP_DAILY_RECIPIENT_LIMIT allows (Exchange Online: 10,000), counted by the relay for all instances together.',
    steps: [],
    fix:
      'Nothing to fix now: the relay sends nothing more into the block Exchange would impose (554 5.2.0 SubmissionQuotaExceeded, up to 24 hours); ' +
      "each message waits in the queue until enough of the day's sends age out, then goes. A message still waiting RELAY_RETRY_MAX_AGE_SECONDS after it was " +
      'queued is dead-lettered as daily_limit (replay it). If it happens regularly, spread the mail over several mailboxes or send to fewer recipients.',
  },
  mailbox_full: {
    symptom: '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException',
    finding: "SMTP_USER's mailbox is full, and a full mailbox may not send: Exchange keeps a copy of every message sent over SMTP AUTH in Sent Items.",
    steps: ['authorizedUser'],
    fix:
      'Empty Sent Items (and Deleted Items) of SMTP_USER, and give Sent Items a retention policy that deletes old copies before the mailbox fills ' +
      '(Microsoft Purview → Data lifecycle management → Retention policies), or raise the mailbox quota. Messages are retried meanwhile; ' +
      'the monitor raises the alert mailbox_full.',
  },
  message_too_large: {
    symptom: '552 5.3.4 or a SIZE refusal',
    finding: 'The message is larger than the server accepts.',
    steps: [],
    fix: 'Make the message smaller (Exchange Online accepts 35 MB by default, up to 150 MB when raised for the mailbox).',
  },
} as const satisfies Record<string, Diagnosis>;

export const SMTP_REMEDIES = {
  /** The relay paused the mailbox itself to stay under the provider's limits (src/throttle). */
  mailbox_paused:
    'Nothing to fix if this is rare. If it is constant, the app sends more than the mailbox may (Exchange Online: 30 messages a ' +
    'minute, 3 connections): lower host.json batchSize or the instance cap, or spread the load over several mailboxes.',
} as const satisfies Record<string, Remedy>;
