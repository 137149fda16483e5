/**
 * Turns a failed Key Vault read (or the managed-identity sign-in in front of it)
 * into a RelayError. An unreachable or busy vault is transient: the message is
 * retried, never lost. A vault that answers "no" is a setup mistake, named with
 * the role or setting that fixes it.
 */
import { RelayError, type FailureKind, type ReasonCode } from '../core/errors';
import { redact } from '../core/redact';
import { describeNetworkFailure, networkFailureOf } from '../transport/networkFailure';
import { advice, type Advice } from '../core/diagnoses';

interface KeyVaultErrorShape {
  name?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  details?: unknown;
  response?: { headers?: { get?(name: string): string | undefined } };
}

export function classifyKeyVaultError(error: unknown, where: string): RelayError {
  const shape = (error && typeof error === 'object' ? error : {}) as KeyVaultErrorShape;
  const status = typeof shape.statusCode === 'number' ? shape.statusCode : undefined;
  const reply = providerReply(shape, status);
  const make = (reason: ReasonCode, kind: FailureKind, text: string, advised?: Advice, retryAfterSeconds?: number) =>
    new RelayError(redact(`Could not read the client secret from ${where}: ${text}.`), {
      reason,
      kind,
      providerReply: reply,
      ...advised,
      retryAfterSeconds,
      cause: error,
    });

  if (shape.name === 'CredentialUnavailableError' || shape.name === 'AuthenticationError' || shape.name === 'AggregateAuthenticationError') {
    const network = networkFailureOf(error);
    const identityStatus = typeof (shape as { statusCode?: unknown }).statusCode === 'number' ? status : undefined;
    const passing = network !== undefined || (identityStatus !== undefined && (identityStatus >= 500 || identityStatus === 429));
    return make(
      'managed_identity_unavailable',
      passing ? 'transient' : 'configuration',
      `the managed identity could not get a token for Key Vault (${firstLine(shape.message)})`,
      passing ? undefined : advice('key_vault_identity_unavailable'),
    );
  }
  if (status === undefined) {
    const network = networkFailureOf(error);
    const what = network ? describeNetworkFailure(network) : firstLine(shape.message);
    return make(
      'secret_store_unavailable',
      'transient',
      `Key Vault could not be reached (${what})`,
      network?.kind === 'tls' ? advice('key_vault_tls') : undefined,
    );
  }
  if (status === 429 || status >= 500) {
    const retryAfter = Number(shape.response?.headers?.get?.('retry-after'));
    return make(
      'secret_store_unavailable',
      'transient',
      status === 429 ? 'Key Vault is throttling requests (HTTP 429)' : `Key Vault failed (HTTP ${status})`,
      undefined,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  if (status === 404) {
    return make('secret_not_found', 'configuration', 'the secret does not exist (HTTP 404)', advice('key_vault_secret_not_found'));
  }
  if (status === 403 && isDisabled(shape)) {
    return make('secret_disabled', 'configuration', 'its current version is disabled (HTTP 403)', advice('key_vault_secret_disabled'));
  }
  if (status === 401 || status === 403) {
    return make('secret_store_access_denied', 'configuration', `Key Vault refused access (HTTP ${status})`, advice('key_vault_access_denied'));
  }
  return make('secret_store_unavailable', 'transient', `Key Vault answered HTTP ${status}`);
}

/** 403 for a disabled secret: Key Vault says so in the message and in innererror.code (SecretDisabled). */
function isDisabled(shape: KeyVaultErrorShape): boolean {
  const details = JSON.stringify(shape.details ?? {});
  return /SecretDisabled/i.test(details) || /disabled/i.test(shape.message ?? '');
}

function providerReply(shape: KeyVaultErrorShape, status: number | undefined): string | undefined {
  const text = [shape.code, firstLine(shape.message)].filter(Boolean).join(': ');
  const reply = text || (status ? `HTTP ${status}` : '');
  return reply ? redact(reply).slice(0, 500) : undefined;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split(/\r?\n/)[0]!.trim();
}
