/** The SMTP section: server, port and security, pool and rate limits, timeouts, extra CA certificates. */
import { isIP } from 'node:net';
import { echoSetting } from '../core/echo';
import { HOST_LABEL } from './formats';
import { GMAIL_SMTP_HOST } from './gmail';
import { EXCHANGE_MESSAGES_PER_MINUTE, EXCHANGE_POOL_LIMIT, isMicrosoftSmtpHost } from './microsoft';
import type { SettingsReader } from './reader';
import { SETTINGS } from './spec';
import type { SmtpSettings } from './types';

export type ReadTextFile = (path: string, encoding: 'utf8') => string;

/** `google`: OAUTH2_PROVIDER=google, whose SMTP_HOST default is smtp.gmail.com. */
export function readSmtp(reader: SettingsReader, readFile: ReadTextFile, google = false): SmtpSettings {
  const host = readHost(reader, google);
  const port = reader.integer('SMTP_PORT');
  const security = reader.choice('SMTP_SECURITY');
  const portKnown = !reader.hasProblem('SMTP_PORT');
  if (security === 'implicit' && port === 587 && portKnown) {
    reader.report('SMTP_SECURITY', 'implicit contradicts SMTP_PORT 587, which is the STARTTLS submission port (use starttls, or port 465)');
  }
  if (security === 'starttls' && port === 465 && portKnown) {
    reader.report('SMTP_SECURITY', 'starttls contradicts SMTP_PORT 465, which expects TLS from the first byte (use implicit, or port 587)');
  }
  const isExchange = isMicrosoftSmtpHost(host);
  const rateLimitPerMinute = reader.integer('SMTP_RATE_LIMIT_PER_MINUTE') ?? SETTINGS.SMTP_RATE_LIMIT_PER_MINUTE.default.rule({ host });
  if (isExchange && rateLimitPerMinute > EXCHANGE_MESSAGES_PER_MINUTE) {
    reader.report(
      'SMTP_RATE_LIMIT_PER_MINUTE',
      `${rateLimitPerMinute} exceeds the ${EXCHANGE_MESSAGES_PER_MINUTE} messages a minute Exchange Online allows per mailbox`,
    );
  }
  const poolSize = reader.integer('SMTP_POOL_SIZE');
  if (isExchange && poolSize > EXCHANGE_POOL_LIMIT) {
    reader.report('SMTP_POOL_SIZE', `${poolSize} exceeds the ${EXCHANGE_POOL_LIMIT} concurrent connections Exchange Online allows per mailbox`);
  }
  const settings: SmtpSettings = {
    host,
    port,
    security: security ?? SETTINGS.SMTP_SECURITY.default.rule({ port }),
    poolSize,
    rateLimitPerMinute,
    rateLimitWindowMs: reader.integer('SMTP_RATE_LIMIT_WINDOW_SECONDS') * 1000,
    dailyRecipientLimit: reader.integer('SMTP_DAILY_RECIPIENT_LIMIT') ?? SETTINGS.SMTP_DAILY_RECIPIENT_LIMIT.default.rule({ host }),
    dailyRecipientWindowMs: reader.integer('SMTP_DAILY_RECIPIENT_WINDOW_SECONDS') * 1000,
    limitsScope: reader.choice('RELAY_LIMITS_SCOPE'),
    rateLimitMaxWaitMs: reader.integer('SMTP_RATE_LIMIT_MAX_WAIT_SECONDS') * 1000,
    throttleBackoffMs: reader.integer('SMTP_THROTTLE_BACKOFF_SECONDS') * 1000,
    connectionTimeoutMs: reader.integer('SMTP_CONNECTION_TIMEOUT_MS'),
    greetingTimeoutMs: reader.integer('SMTP_GREETING_TIMEOUT_MS'),
    socketTimeoutMs: reader.integer('SMTP_SOCKET_TIMEOUT_MS'),
  };
  const extraCa = readExtraCa(reader, readFile);
  if (extraCa !== undefined) settings.extraCa = extraCa;
  return settings;
}

/** SMTP_HOST; a wrong host is reported and kept, so the Exchange checks still see what was meant. */
function readHost(reader: SettingsReader, google: boolean): string {
  const preset = SETTINGS.SMTP_HOST.default;
  const host = reader.get('SMTP_HOST');
  // Gmail's submission server, as smtp.office365.com is Microsoft's: 587 STARTTLS (or 465 implicit TLS).
  if (host === undefined) return google ? GMAIL_SMTP_HOST : preset;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    reader.report('SMTP_HOST', `${echoSetting(host)} is a URL; give the host name only (e.g. ${preset})`);
  } else if (/^[^:]+:[0-9]+$/.test(host)) {
    reader.report('SMTP_HOST', `${echoSetting(host)} includes a port; give the host name only and the port in SMTP_PORT`);
  } else if (isIP(host) === 0 && !(host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label)))) {
    reader.report('SMTP_HOST', `${echoSetting(host)} is not a host name`);
  }
  return host;
}

function readExtraCa(reader: SettingsReader, readFile: ReadTextFile): string | undefined {
  const path = reader.get('TLS_EXTRA_CA_FILE');
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFile(path, 'utf8');
  } catch (error) {
    reader.report('TLS_EXTRA_CA_FILE', `cannot read ${echoSetting(path)} (${errorCode(error)})`);
    return undefined;
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    reader.report('TLS_EXTRA_CA_FILE', `${echoSetting(path)} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)`);
    return undefined;
  }
  return pem;
}

/** A file system error's code (ENOENT, EACCES), else its message. */
function errorCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return error instanceof Error ? error.message : String(error);
}
