/**
 * Last line of defence against secret leaks: every string that leaves the
 * relay (log lines, error texts, HTTP answers, dead-letter records) passes
 * through `redact()`. Known secret values (client secret, current access
 * tokens) are registered here by the code that handles them, and anything
 * shaped like a bearer token or an XOAUTH2 initial response is masked even
 * if nobody registered it.
 */
import type { Logger } from './log';

const REDACTED = '[redacted]';
const knownSecrets = new Set<string>();

// JWTs (Entra access tokens): three base64url parts, the first two starting with '{"'.
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
// base64("user=") starts every XOAUTH2 initial client response.
const XOAUTH2_PATTERN = /(?<![A-Za-z0-9+/])dXNlcj[0-9A-Za-z+/]{8,}={0,2}/g;
// "Bearer <anything>" in headers or texts.
const BEARER_PATTERN = /(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/gi;

/** Remember a secret value so it is masked wherever it might appear. Short values are ignored (too many false hits). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

/** Forget a secret (a replaced token), to keep the set small. */
export function forgetSecret(value: string | undefined): void {
  if (value) knownSecrets.delete(value);
}

/** Masks only the registered secret values: for text that must otherwise stay byte for byte (an application's original message). */
export function redactKnownSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

export function redact(text: string): string {
  return redactKnownSecrets(text)
    .replace(JWT_PATTERN, REDACTED)
    .replace(XOAUTH2_PATTERN, REDACTED)
    .replace(BEARER_PATTERN, `$1${REDACTED}`);
}

/** Deep-redact a JSON-able value (strings anywhere inside are masked). */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactValue(item)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = redactValue(item);
    return out as T;
  }
  return value;
}

/** A logger that masks secrets in every line and field before passing them on. */
export function redactingLogger(inner: Logger): Logger {
  return {
    info: (message, props) => inner.info(redact(message), props && redactValue(props)),
    warn: (message, props) => inner.warn(redact(message), props && redactValue(props)),
    error: (message, props) => inner.error(redact(message), props && redactValue(props)),
  };
}
