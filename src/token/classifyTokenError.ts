/**
 * Turns every way a token request can fail into a RelayError.
 *
 * What the endpoint said is preferred over what a library made of it: the
 * AADSTS number (error_codes, or AADSTSnnnn in error_description) first, then
 * the OAuth `error` field, then the HTTP status; message texts are only a last
 * resort. The request itself (which holds the client secret) never appears.
 */
import { RelayError, type FailureKind, type ReasonCode } from '../core/errors';
import { redact } from '../core/redact';
import { describeNetworkFailure, networkFailureOf } from '../transport/networkFailure';
import { advice, type DiagnosisId } from '../core/diagnoses';

/** What is known about one failed token request, whatever client made it. */
export interface TokenEndpointFailure {
  /** HTTP status of the failing answer; absent when no answer came. */
  status?: number;
  /** OAuth `error` field (RFC 6749 §5.2). */
  error?: string;
  errorDescription?: string;
  /** Entra's error_codes (AADSTS numbers). */
  errorCodes?: number[];
  retryAfterSeconds?: number;
  /** No answer: connection, DNS, TLS or timeout failure. */
  networkError?: unknown;
  /** An answer that is not the JSON an OAuth endpoint must send. */
  malformed?: boolean;
}

interface Verdict {
  reason: ReasonCode;
  kind: FailureKind;
  message: string;
  /** The diagnosis list's entry, the one place that names the setup steps; the remedy is its text. */
  diagnosis?: DiagnosisId;
}

/** AADSTS numbers that name a setup mistake precisely. */
const AADSTS_VERDICTS: Record<number, Verdict> = {
  90002: {
    reason: 'tenant_not_found',
    kind: 'configuration',
    message: 'the tenant was not found',
    diagnosis: 'tenant_not_found',
  },
  900023: {
    reason: 'tenant_not_found',
    kind: 'configuration',
    message: 'the tenant identifier is not valid',
    diagnosis: 'tenant_not_found',
  },
  700016: {
    reason: 'app_not_found',
    kind: 'configuration',
    message: 'the application was not found in the tenant',
    diagnosis: 'app_not_found',
  },
  7000215: {
    reason: 'invalid_client_secret',
    kind: 'configuration',
    message: 'the client secret is wrong',
    diagnosis: 'invalid_client_secret',
  },
  7000218: {
    reason: 'invalid_client_secret',
    kind: 'configuration',
    message: 'no client secret was sent',
    diagnosis: 'invalid_client_secret',
  },
  7000222: {
    reason: 'expired_client_secret',
    kind: 'configuration',
    message: 'the client secret has expired',
    diagnosis: 'expired_client_secret',
  },
};

const INVALID_SCOPE: Verdict = {
  reason: 'invalid_scope',
  kind: 'configuration',
  message: 'the requested scope is not valid',
  diagnosis: 'invalid_scope',
};
// 1002012: scope without /.default; 70011: scope not valid; 500011: resource (audience) not found in the tenant.
for (const code of [1002012, 70011, 500011]) AADSTS_VERDICTS[code] = INVALID_SCOPE;

const THROTTLED: Verdict = {
  reason: 'token_endpoint_throttled',
  kind: 'transient',
  message: 'the token endpoint is throttling requests',
};

/** AADSTS numbers from error_codes and from the description text. */
export function aadstsCodes(failure: Pick<TokenEndpointFailure, 'errorCodes' | 'errorDescription'>): number[] {
  const codes = (failure.errorCodes ?? []).filter((code) => Number.isInteger(code));
  for (const match of (failure.errorDescription ?? '').matchAll(/AADSTS(\d+)/g)) codes.push(Number(match[1]));
  return [...new Set(codes)];
}

function verdictFor(failure: TokenEndpointFailure): Verdict {
  if (failure.networkError !== undefined) {
    const network = networkFailureOf(failure.networkError);
    const what = network ? describeNetworkFailure(network) : errorText(failure.networkError);
    if (network?.kind === 'tls') {
      return {
        reason: 'token_endpoint_unavailable',
        kind: 'transient',
        message: `the token endpoint's TLS certificate was not accepted: ${what}`,
        diagnosis: 'token_endpoint_tls',
      };
    }
    return { reason: 'token_endpoint_unavailable', kind: 'transient', message: `the token endpoint could not be reached: ${what}` };
  }
  if (failure.status === 429) return THROTTLED;
  for (const code of aadstsCodes(failure)) {
    const verdict = AADSTS_VERDICTS[code];
    if (verdict) return verdict;
    if (code === 50196) return THROTTLED;
  }
  const error = failure.error?.toLowerCase();
  const google = googleVerdict(error, failure.errorDescription ?? '');
  if (google) return google;
  if (error === 'invalid_scope') return INVALID_SCOPE;
  if ((failure.status ?? 0) >= 500 || error === 'temporarily_unavailable' || error === 'server_error') {
    return {
      reason: 'token_endpoint_unavailable',
      kind: 'transient',
      message: `the token endpoint failed${failure.status ? ` (HTTP ${failure.status})` : ''}`,
    };
  }
  if (failure.malformed) {
    return {
      reason: 'token_endpoint_unavailable',
      kind: 'transient',
      message: `the token endpoint sent an answer that is not an OAuth2 JSON document${failure.status ? ` (HTTP ${failure.status})` : ''}`,
    };
  }
  return {
    reason: 'token_request_rejected',
    kind: 'configuration',
    message: `the token request was rejected${error ? ` (${error})` : ''}${failure.status ? ` (HTTP ${failure.status})` : ''}`,
    diagnosis: 'token_request_rejected',
  };
}

/**
 * Google's token endpoint (the JWT-bearer grant of a service account): the `error` with its
 * `error_description`, whose texts are Google's (https://developers.google.com/identity/protocols/oauth2/service-account,
 * "Error codes"). Gated on those texts, so another provider's unauthorized_client or invalid_grant keeps the generic verdict.
 */
function googleVerdict(error: string | undefined, description: string): Verdict | undefined {
  if (error === 'unauthorized_client' && /client is unauthorized to retrieve access tokens|not authorized for any of the scopes/i.test(description)) {
    return {
      reason: 'google_delegation_missing',
      kind: 'configuration',
      message: 'Google refused the service account: domain-wide delegation is not granted to its client ID for the scope asked for',
      diagnosis: 'google_delegation_missing',
    };
  }
  if (error === 'disabled_client' || (error === 'invalid_grant' && /account not found/i.test(description))) {
    return {
      reason: 'google_account_disabled',
      kind: 'configuration',
      message: 'Google refused the service account: it is disabled or deleted',
      diagnosis: 'google_account_disabled',
    };
  }
  if (error !== 'invalid_grant') return undefined;
  if (/Invalid JWT Signature/i.test(description)) {
    return {
      reason: 'google_key_rejected',
      kind: 'configuration',
      message: "Google refused the assertion's signature: the service account key was deleted or disabled, or is another account's",
      diagnosis: 'google_key_rejected',
    };
  }
  if (/short-lived token|reasonable timeframe|\biat\b|\bexp\b/i.test(description)) {
    return {
      reason: 'google_clock_skew',
      kind: 'configuration',
      message: "Google refused the assertion's time range (iat/exp): the host's clock is wrong",
      diagnosis: 'google_clock_skew',
    };
  }
  if (/Invalid email or User ID/i.test(description)) {
    return {
      reason: 'google_user_unknown',
      kind: 'configuration',
      message: 'Google does not know the mailbox the token was asked for (the JWT sub) as a user of the domain',
      diagnosis: 'google_user_unknown',
    };
  }
  return undefined;
}

/** "error: description", first line only (Entra appends trace and correlation ids on further lines). */
export function tokenProviderReply(failure: TokenEndpointFailure): string | undefined {
  const parts = [failure.error, failure.errorDescription].filter((part): part is string => !!part && !!part.trim());
  let reply = parts.join(': ');
  if (!reply && failure.status) reply = `HTTP ${failure.status}`;
  if (!reply && failure.networkError !== undefined) reply = errorText(failure.networkError);
  const firstLine = reply.split(/\r?\n/)[0]?.trim();
  return firstLine ? redact(firstLine).slice(0, 1000) : undefined;
}

export function classifyTokenFailure(failure: TokenEndpointFailure, cause?: unknown): RelayError {
  const verdict = verdictFor(failure);
  const retryAfterSeconds = verdict.kind === 'transient' ? failure.retryAfterSeconds : undefined;
  return new RelayError(redact(`Could not get an access token: ${verdict.message.replace(/\.+$/, '')}.`), {
    reason: verdict.reason,
    kind: verdict.kind,
    providerReply: tokenProviderReply(failure),
    ...(verdict.diagnosis ? advice(verdict.diagnosis) : {}),
    retryAfterSeconds,
    cause,
  });
}

/**
 * Parses an OAuth2 error answer (RFC 6749 §5.2, Entra's extra fields). Anything
 * else is `malformed`, with the status kept.
 */
export function parseTokenErrorBody(status: number, text: string, retryAfter?: string | null): TokenEndpointFailure {
  const failure: TokenEndpointFailure = { status, retryAfterSeconds: parseRetryAfter(retryAfter) };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ...failure, malformed: true };
  }
  if (!body || typeof body !== 'object') return { ...failure, malformed: true };
  const record = body as Record<string, unknown>;
  if (typeof record.error === 'string') failure.error = record.error;
  if (typeof record.error_description === 'string') failure.errorDescription = record.error_description;
  if (Array.isArray(record.error_codes)) failure.errorCodes = record.error_codes.map(Number).filter(Number.isInteger);
  if (!failure.error && !failure.errorDescription) failure.malformed = true;
  return failure;
}

/** Retry-After as seconds (delta-seconds or an HTTP date); undefined when absent or unusable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

// ------------------------------------------------------------ @azure/identity

/**
 * Classifies an error thrown by @azure/identity's ClientSecretCredential.
 * Shapes seen against a local Entra-shaped endpoint (@azure/identity 4.14, MSAL 7):
 *  - an OAuth error answer → AuthenticationRequiredError whose `cause` is MSAL's
 *    ServerError { errorCode: <OAuth error>, errorNo: <first AADSTS number>, status, errorMessage:
 *    "Error(s): 7000215 - Timestamp: … - Description: AADSTS7000215: … - Correlation ID: …" };
 *    older versions throw AuthenticationError { statusCode, errorResponse: { error, errorDescription, errorCodes } };
 *  - 5xx without JSON, a malformed answer → AuthenticationRequiredError caused by ClientAuthError 'network_error';
 *  - untrusted certificate, refused connection, bad discovery document, unknown tenant at discovery
 *    → CredentialUnavailableError 'endpoints_resolution_error' with no cause at all.
 * `observed` is what our pipeline policy saw on the wire (status, OAuth body, socket error); it
 * fills in what the error objects lose.
 */
export function classifyIdentityError(error: unknown, observed: TokenEndpointFailure = {}): RelayError {
  const fromError = failureFromIdentityError(error);
  const failure: TokenEndpointFailure = { ...fromError };
  // The wire wins: the error objects drop the status, the body or the socket error in several paths.
  for (const [key, value] of Object.entries(observed) as Array<[keyof TokenEndpointFailure, unknown]>) {
    if (value !== undefined) (failure as Record<string, unknown>)[key] = value;
  }
  if (failure.status === undefined && failure.networkError === undefined && !failure.error) {
    // Nothing reached us from the endpoint: report the library's own words.
    failure.networkError = error;
  }
  return classifyTokenFailure(failure, error);
}

function failureFromIdentityError(error: unknown): TokenEndpointFailure {
  if (!error || typeof error !== 'object') return {};
  const record = error as Record<string, unknown>;
  const response = record.errorResponse as Record<string, unknown> | undefined;
  if (response && typeof response === 'object') {
    return {
      status: typeof record.statusCode === 'number' ? record.statusCode : undefined,
      error: typeof response.error === 'string' ? response.error : undefined,
      errorDescription: typeof response.errorDescription === 'string' ? response.errorDescription : undefined,
      errorCodes: Array.isArray(response.errorCodes) ? response.errorCodes.map(Number) : undefined,
    };
  }
  const cause = record.cause as Record<string, unknown> | undefined;
  if (cause && typeof cause === 'object' && cause.name === 'ServerError') {
    const errorMessage = typeof cause.errorMessage === 'string' ? cause.errorMessage : '';
    const description = /Description:\s*([\s\S]*?)(?:\s+-\s+Correlation ID:|\s+-\s+Trace ID:|$)/.exec(errorMessage)?.[1];
    const errorNo = Number(cause.errorNo);
    return {
      status: typeof cause.status === 'number' ? cause.status : undefined,
      error: typeof cause.errorCode === 'string' ? cause.errorCode : undefined,
      errorDescription: description ?? (errorMessage || undefined),
      errorCodes: Number.isInteger(errorNo) && errorNo > 0 ? [errorNo] : undefined,
    };
  }
  return {};
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

// ------------------------------------------------------------ secret in Key Vault

/** Where a Key Vault secret lives, as remedies name it. */
export interface KeyVaultLocation {
  vaultUrl: string;
  secretName: string;
}

const KEY_VAULT_DIAGNOSIS: Partial<Record<RelayError['reason'], 'key_vault_secret_invalid' | 'key_vault_secret_expired'>> = {
  invalid_client_secret: 'key_vault_secret_invalid',
  expired_client_secret: 'key_vault_secret_expired',
};

/**
 * A refused secret, with the remedy of the mode the relay runs in: with the secret in Key
 * Vault the fix is a new version of that secret, never the OAUTH2_CLIENT_SECRET setting
 * (which that mode refuses at start). Other failures are returned as they are.
 */
export function inKeyVaultTerms(failure: RelayError, where: KeyVaultLocation): RelayError {
  const diagnosis = KEY_VAULT_DIAGNOSIS[failure.reason];
  if (!diagnosis) return failure;
  return new RelayError(failure.message.replace(/\.$/, ` (read from Key Vault secret "${where.secretName}" in ${where.vaultUrl}).`), {
    reason: failure.reason,
    kind: failure.kind,
    providerReply: failure.providerReply,
    ...advice(diagnosis, fillFor(where)),
    cause: failure,
  });
}

/** The value in Key Vault is a GUID: the secret's ID, stored instead of its Value. Never sent to Entra. */
export function secretIdInKeyVault(where: KeyVaultLocation): RelayError {
  return new RelayError(
    `Could not get an access token: Key Vault secret "${where.secretName}" in ${where.vaultUrl} holds a GUID, the client secret's ID instead of its Value; it was not sent to the token endpoint.`,
    { reason: 'client_secret_is_id', kind: 'configuration', ...advice('key_vault_secret_is_id', fillFor(where)) },
  );
}

function fillFor(where: KeyVaultLocation): Record<string, string> {
  return { vault: where.vaultUrl, 'secret name': `"${where.secretName}"` };
}
