/**
 * Recognises what kind of network failure an error stands for (TLS, DNS,
 * refused, timeout, reset), looking through wrapper errors' `cause` chain and
 * nodemailer's `originalCode`. Shared by the token and SMTP classifiers.
 */

export type NetworkFailureKind = 'tls' | 'dns' | 'unreachable' | 'timeout' | 'reset';

export interface NetworkFailure {
  kind: NetworkFailureKind;
  /** The system or OpenSSL code, e.g. ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  code?: string;
  /** The innermost error's message (no request data: these come from sockets). */
  message: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ETIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
// OpenSSL verification results and Node's TLS error codes.
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|HOSTNAME_MISMATCH|^EPROTO$/;
const TLS_MESSAGE = /certificate|self[- ]signed|ssl|tls|handshake/i;

function kindOfCode(code: string): NetworkFailureKind | undefined {
  if (DNS_CODES.has(code)) return 'dns';
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (RESET_CODES.has(code)) return 'reset';
  if (TLS_CODE.test(code)) return 'tls';
  return undefined;
}

/** The errors to look at: the error itself and its causes, innermost last. */
function chain(error: unknown): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && out.length < 6 && !out.includes(current as Record<string, unknown>)) {
    out.push(current as Record<string, unknown>);
    current = (current as { cause?: unknown }).cause;
  }
  return out;
}

export function networkFailureOf(error: unknown): NetworkFailure | undefined {
  const errors = chain(error);
  const innermost = errors[errors.length - 1];
  const rawMessage = typeof innermost?.message === 'string' ? innermost.message : String(error);
  // OpenSSL messages end in a source-file location on further lines.
  const message = rawMessage.split(/\r?\n/)[0]!.trim();
  // Innermost first: wrappers carry generic codes (ESOCKET, REQUEST_SEND_ERROR).
  for (const item of [...errors].reverse()) {
    for (const field of ['code', 'originalCode']) {
      const code = item[field];
      if (typeof code !== 'string') continue;
      const kind = kindOfCode(code);
      if (kind) return { kind, code, message };
    }
    if (item.name === 'TimeoutError') return { kind: 'timeout', message };
  }
  if (errors.some((item) => typeof item.message === 'string' && TLS_MESSAGE.test(item.message) && /verify|certificate|self[- ]signed/i.test(item.message))) {
    return { kind: 'tls', message };
  }
  return undefined;
}

export function describeNetworkFailure(failure: NetworkFailure): string {
  const code = failure.code ? ` (${failure.code})` : '';
  switch (failure.kind) {
    case 'tls':
      return `TLS/certificate failure${code}: ${failure.message}`;
    case 'dns':
      return `host name could not be resolved${code}: ${failure.message}`;
    case 'unreachable':
      return `connection refused or host unreachable${code}: ${failure.message}`;
    case 'timeout':
      return `timed out${code}: ${failure.message}`;
    case 'reset':
      return `connection reset${code}: ${failure.message}`;
  }
}
