/**
 * Every failure the relay can meet becomes a RelayError: a value with a kind,
 * a machine-readable reason code, the provider's reply and the remedy, so the
 * queue handler decides retry or dead-letter in one place and the operator
 * reads what failed and which setup step fixes it.
 */
import type { CatalogueId } from './diagnoses';

/**
 * - permanent: this message can never be delivered as it is (bad input, 5xx for
 *   the sender or every recipient, too large): dead-letter at once.
 * - transient: try again later (4xx, network, timeouts, token endpoint 429/5xx).
 * - configuration: the relay's setup is wrong (bad secret, missing permission).
 *   The message is fine, so it is retried like a transient failure and, if the
 *   setup is still wrong on its last attempt, dead-lettered with the reason so it
 *   can be replayed once the setup is fixed.
 */
export type FailureKind = 'permanent' | 'transient' | 'configuration';

export type ReasonCode =
  // the queue message itself
  | 'invalid_json'
  | 'invalid_message'
  | 'sender_not_allowed'
  | 'too_many_recipients'
  // an `id` the ledger already holds for a message with other content (permanent)
  | 'id_conflict'
  // token endpoint
  | 'token_endpoint_unavailable'
  | 'token_endpoint_throttled'
  | 'token_request_rejected'
  | 'tenant_not_found'
  | 'app_not_found'
  | 'invalid_client_secret'
  | 'expired_client_secret'
  | 'invalid_scope'
  // certificate credential (OAUTH2_AUTH_MODE=certificate): the assertion refused, or the PEM unusable
  | 'invalid_client_certificate'
  | 'client_assertion_time_invalid'
  | 'client_certificate_unusable'
  // SMTP connection and authentication
  | 'smtp_unreachable'
  | 'smtp_tls_failed'
  | 'smtp_timeout'
  | 'smtp_auth_not_offered'
  | 'smtp_auth_rejected'
  | 'smtp_auth_disabled'
  | 'mailbox_logon_failed'
  | 'smtp_throttled'
  | 'basic_auth_unsupported'
  // a refused token (535), decoded locally: the likeliest missed setup step
  | 'token_audience_not_exchange'
  | 'token_role_missing'
  | 'token_wrong_tenant'
  | 'token_wrong_app'
  | 'exchange_access_missing'
  // SMTP transaction
  | 'send_as_denied'
  | 'sender_rejected'
  | 'recipients_rejected'
  | 'message_too_large'
  | 'attachment_not_found'
  | 'quota_exceeded'
  // the relay's own count of the mailbox's daily recipients (SMTP_DAILY_RECIPIENT_LIMIT) has no room for the message
  | 'daily_limit'
  | 'mailbox_full'
  | 'smtp_transient_failure'
  | 'smtp_permanent_failure'
  // Microsoft Graph (the graph transport, src/graph)
  | 'graph_access_denied'
  | 'graph_mailbox_not_enabled'
  | 'graph_mailbox_not_found'
  | 'graph_token_rejected'
  | 'graph_throttled'
  | 'graph_unavailable'
  | 'graph_request_rejected'
  // storage (dead-letter queue)
  | 'storage_unavailable'
  // delivery ledger: another instance holds a live claim on the message
  | 'delivery_in_progress'
  // client secret in Key Vault, managed identity (src/secrets)
  | 'secret_store_unavailable'
  | 'secret_store_access_denied'
  | 'secret_not_found'
  | 'secret_disabled'
  | 'managed_identity_unavailable'
  // the relay's own settings are invalid (the message was not read)
  | 'configuration_invalid'
  | 'client_secret_is_id'
  // the last allowed attempt failed for a reason that is otherwise retried
  | 'max_attempts_exceeded'
  | 'internal_error';

export interface RelayErrorDetails {
  reason: ReasonCode;
  kind: FailureKind;
  /** The provider's own words (SMTP reply line, OAuth error/description), already free of secrets. */
  providerReply?: string;
  /**
   * What the operator should do, naming the setup step: the catalogue's text for `diagnosis`
   * (spread `advice(id)` from src/core/diagnoses), or passed on from the failure this one wraps.
   */
  remedy?: string;
  /** Seconds the provider asked us to wait (Retry-After, throttling). */
  retryAfterSeconds?: number;
  /** The catalogue entry (src/core/diagnoses.ts) the remedy comes from, when it names one. */
  diagnosis?: CatalogueId;
  cause?: unknown;
}

export class RelayError extends Error {
  readonly reason: ReasonCode;
  readonly kind: FailureKind;
  readonly providerReply?: string;
  readonly remedy?: string;
  readonly retryAfterSeconds?: number;
  readonly diagnosis?: CatalogueId;

  constructor(message: string, details: RelayErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RelayError';
    this.reason = details.reason;
    this.kind = details.kind;
    this.providerReply = details.providerReply;
    this.remedy = details.remedy;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.diagnosis = details.diagnosis;
  }

  /** Whether the queue should deliver the message again (before its last attempt). */
  get retryable(): boolean {
    return this.kind !== 'permanent';
  }

  /** A plain object for logs, HTTP answers and dead-letter records (no stack, no cause). */
  toJSON(): Record<string, unknown> {
    return {
      reason: this.reason,
      kind: this.kind,
      message: this.message,
      providerReply: this.providerReply,
      remedy: this.remedy,
      retryAfterSeconds: this.retryAfterSeconds,
    };
  }
}

export function isRelayError(value: unknown): value is RelayError {
  return value instanceof RelayError;
}
