/**
 * Which extra headers a queue message may carry, and which of them must reach the
 * wire exactly as written.
 *
 * Producers are not trusted. A header the relay writes itself (addresses, identity,
 * MIME structure) would let a message spoof its sender, hide recipients or break its
 * MIME tree; a header that servers and filters write (trace, authentication results,
 * transport and spam verdicts) would let it forge what receivers believe about where
 * the message came from and what checks it passed. Both kinds are refused, by exact
 * name or by family (a name prefix), compared case-insensitively.
 *
 * This list is the one source: validate.ts refuses what it names, and the schema's
 * description of `headers` repeats refusedHeaderSummary() (a test checks they agree).
 */

export interface RefusedHeader {
  /** A field name, or a family written as a prefix followed by `*` (`Resent-*`). */
  name: string;
  /** Completes "$.headers.X: …" in the dead-letter record. */
  problem: string;
  /** Where the field is defined or documented. */
  source: string;
}

const OWNED = 'is written by the relay and cannot be set by a message';
const TRACE = 'is a trace field written by the servers that carry the message; a message cannot set it';
const AUTHENTICATION = 'carries authentication results or signatures that only receiving or signing servers write; a message cannot set it';
const TRANSPORT = "carries a mail system's own transport or filtering decisions; a message cannot set it";
const REDIRECT = 'asks receiving systems to send automatic mail (bounces, receipts) to an address outside the envelope; a message cannot set it';

export const REFUSED_HEADERS: readonly RefusedHeader[] = [
  // The message's own identity and structure: the relay writes them from the message's fields.
  { name: 'From', problem: OWNED, source: 'RFC 5322 §3.6.2' },
  { name: 'Sender', problem: OWNED, source: 'RFC 5322 §3.6.2' },
  { name: 'Reply-To', problem: OWNED, source: 'RFC 5322 §3.6.2' },
  { name: 'To', problem: OWNED, source: 'RFC 5322 §3.6.3' },
  { name: 'Cc', problem: OWNED, source: 'RFC 5322 §3.6.3' },
  { name: 'Bcc', problem: OWNED, source: 'RFC 5322 §3.6.3' },
  { name: 'Message-ID', problem: OWNED, source: 'RFC 5322 §3.6.4' },
  { name: 'Date', problem: OWNED, source: 'RFC 5322 §3.6.1' },
  { name: 'Subject', problem: OWNED, source: 'RFC 5322 §3.6.5' },
  { name: 'MIME-Version', problem: OWNED, source: 'RFC 2045 §4' },
  { name: 'Content-*', problem: OWNED, source: 'RFC 2045 §3, RFC 2183, RFC 2392 (MIME structure)' },
  // Trace: each server that handles the message adds these; receivers read them as its route.
  { name: 'Return-Path', problem: TRACE, source: 'RFC 5322 §3.6.7, RFC 5321 §4.4' },
  { name: 'Received', problem: TRACE, source: 'RFC 5322 §3.6.7, RFC 5321 §4.4; Exchange "Header firewall" (routing headers)' },
  { name: 'Resent-*', problem: TRACE, source: 'RFC 5322 §3.6.6; Exchange "Header firewall" (routing headers)' },
  // Authentication results and signatures: receivers trust them to show who really sent it.
  { name: 'Authentication-Results', problem: AUTHENTICATION, source: 'RFC 8601 §2, §5 (receivers remove forged ones)' },
  { name: 'Original-Authentication-Results', problem: AUTHENTICATION, source: 'draft-kucherawy-original-authres (written by forwarders)' },
  { name: 'Received-SPF', problem: AUTHENTICATION, source: 'RFC 7208 §9.1' },
  { name: 'ARC-*', problem: AUTHENTICATION, source: 'RFC 8617 §4 (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results)' },
  { name: 'DKIM-*', problem: AUTHENTICATION, source: 'RFC 6376 §3.5 (DKIM-Signature)' },
  { name: 'DomainKey-Signature', problem: AUTHENTICATION, source: 'RFC 4870 (historic DomainKeys)' },
  {
    name: 'BIMI-*',
    problem: AUTHENTICATION,
    source: 'draft-brand-indicators-for-message-identification (receivers write BIMI-Location and BIMI-Indicator after their checks and remove existing ones)',
  },
  { name: 'Autocrypt', problem: AUTHENTICATION, source: 'Autocrypt Level 1 §2.1 (binds an encryption key to the From address)' },
  // Transport decisions and delivery information of mail systems.
  { name: 'TLS-Required', problem: TRANSPORT, source: 'RFC 8689 §5 ("No" asks servers to ignore TLS policies)' },
  { name: 'Delivered-To', problem: TRANSPORT, source: 'Postfix local(8), qmail (delivery loop detection)' },
  { name: 'X-Original-To', problem: TRANSPORT, source: 'Postfix local(8) (the envelope recipient)' },
  { name: 'Envelope-To', problem: TRANSPORT, source: 'Exim (envelope_to_add)' },
  { name: 'X-Envelope-From', problem: TRANSPORT, source: 'written by delivery agents (the envelope sender)' },
  { name: 'X-Envelope-To', problem: TRANSPORT, source: 'written by delivery agents (the envelope recipient)' },
  { name: 'Apparently-To', problem: TRANSPORT, source: 'RFC 2076 (non-standard, discouraged): sendmail lists envelope recipients in it' },
  { name: 'X-Apparently-To', problem: TRANSPORT, source: 'Yahoo Mail (the envelope recipient)' },
  { name: 'X-Forwarded-To', problem: TRANSPORT, source: 'Gmail forwarding (the forwarding target)' },
  { name: 'X-Forwarded-For', problem: TRANSPORT, source: 'Gmail forwarding (the forwarding chain)' },
  { name: 'X-Originating-IP', problem: TRANSPORT, source: "Exchange and webmail (the submitting client's address)" },
  {
    name: 'X-MS-Exchange-*',
    problem: TRANSPORT,
    source: 'Exchange "Header firewall" (X-MS-Exchange-Organization-*, X-MS-Exchange-Forest-*), Exchange cross-premises and transport headers',
  },
  { name: 'X-MS-Has-Attach', problem: TRANSPORT, source: 'Exchange (MAPI to MIME conversion)' },
  { name: 'X-MS-TNEF-Correlator', problem: TRANSPORT, source: 'Exchange (MAPI to MIME conversion)' },
  { name: 'X-MS-Office365-Filtering-*', problem: TRANSPORT, source: 'Microsoft 365 "Anti-spam message headers"' },
  { name: 'X-MS-PublicTrafficType', problem: TRANSPORT, source: 'Microsoft 365 transport' },
  { name: 'X-MS-TrafficTypeDiagnostic', problem: TRANSPORT, source: 'Microsoft 365 transport' },
  { name: 'X-MS-Oob-TLC-*', problem: TRANSPORT, source: 'Microsoft 365 transport' },
  {
    name: 'X-Microsoft-Antispam*',
    problem: TRANSPORT,
    source: 'Microsoft 365 "Anti-spam message headers" (X-Microsoft-Antispam, -Mailbox-Delivery, -Message-Info)',
  },
  { name: 'X-Forefront-*', problem: TRANSPORT, source: 'Microsoft 365 "Anti-spam message headers" (X-Forefront-Antispam-Report)' },
  { name: 'X-Google-*', problem: TRANSPORT, source: 'Gmail (X-Google-DKIM-Signature, X-Google-Smtp-Source)' },
  { name: 'X-Gm-*', problem: TRANSPORT, source: 'Gmail (X-Gm-Message-State)' },
  { name: 'X-Spam-*', problem: TRANSPORT, source: "SpamAssassin (X-Spam-Status, X-Spam-Flag): a receiving filter's verdict" },
  { name: 'X-Virus-*', problem: TRANSPORT, source: "amavis, ClamAV (X-Virus-Scanned, X-Virus-Status): a receiving filter's verdict" },
  // Automatic mail to an address the envelope does not name.
  { name: 'Errors-To', problem: REDIRECT, source: 'RFC 2076 (non-standard, discouraged)' },
  { name: 'Return-Receipt-To', problem: REDIRECT, source: 'RFC 2076 (non-standard, discouraged)' },
  { name: 'Disposition-Notification-To', problem: REDIRECT, source: 'RFC 8098 §2.1' },
  { name: 'Disposition-Notification-Options', problem: REDIRECT, source: 'RFC 8098 §2.2' },
];

const EXACT = new Map<string, RefusedHeader>();
const FAMILIES: Array<{ prefix: string; rule: RefusedHeader }> = [];
for (const rule of REFUSED_HEADERS) {
  if (rule.name.endsWith('*')) FAMILIES.push({ prefix: rule.name.slice(0, -1).toLowerCase(), rule });
  else EXACT.set(rule.name.toLowerCase(), rule);
}

/** The rule that refuses this header name, or undefined when a message may set it. */
export function refusedHeader(name: string): RefusedHeader | undefined {
  const lower = name.toLowerCase();
  return EXACT.get(lower) ?? FAMILIES.find((family) => lower.startsWith(family.prefix))?.rule;
}

export function isOwnedHeader(name: string): boolean {
  return refusedHeader(name) !== undefined;
}

/** The sentence the schema's description of `headers` carries. */
export function refusedHeaderSummary(): string {
  return `Refused names (compared case-insensitively; * stands for any ending): ${REFUSED_HEADERS.map((rule) => rule.name).join(', ')}.`;
}

/**
 * Structured fields whose value programs read as written: msg-id lists (nodemailer passes
 * them through unencoded), URLs in angle brackets (RFC 2369, RFC 5064) and OTP-Token
 * (nodemailer passes it through). An RFC 2047 encoded word would change what they say, so
 * their values are not encoded: they must be printable ASCII with no unbroken run long
 * enough to push a line past 998 octets (headerText.ts).
 */
const VERBATIM_EXACT = new Set(['in-reply-to', 'references', 'archived-at', 'otp-token']);

export function isVerbatimHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return VERBATIM_EXACT.has(lower) || lower.startsWith('list-');
}
