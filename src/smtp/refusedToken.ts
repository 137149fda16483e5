/**
 * A 535 names its step: the relay holds the token Exchange refused, reads its
 * claims locally (the doctor's reading, src/token/claims.ts) and
 * turns the generic "authentication rejected" into the likeliest missed setup
 * step. The token itself never leaves here; only its non-secret claims are told.
 */
import { RelayError, type ReasonCode } from '../core/errors';
import { redact } from '../core/redact';
import { advice, type DiagnosisId } from '../core/diagnoses';
import { refusedTokenCause, type TokenJudgement } from '../token/claims';
import type { XOAuth2Challenge } from './authHandlers';

/** The reason code each cause is recorded under. */
const REASON_OF: Partial<Record<DiagnosisId, ReasonCode>> = {
  token_audience_not_exchange: 'token_audience_not_exchange',
  token_audience_despite_scope: 'token_audience_not_exchange',
  token_role_missing: 'token_role_missing',
  token_wrong_tenant: 'token_wrong_tenant',
  token_wrong_app: 'token_wrong_app',
  exchange_access_missing: 'exchange_access_missing',
};

/**
 * `failure` explained by the token it refused; `failure` itself when it is not a refused
 * token or the token cannot be read (another provider's, not a JWT): the generic list stays.
 */
export function explainRefusedToken(
  failure: RelayError,
  token: string | undefined,
  settings: TokenJudgement | undefined,
  challenge?: XOAuth2Challenge,
): RelayError {
  if (failure.reason !== 'smtp_auth_rejected' || token === undefined || !settings) return failure;
  if (settings.provider === 'google' || challenge) return gmailRefusal(failure, challenge);
  const cause = refusedTokenCause(token, settings);
  const reason = cause && REASON_OF[cause.diagnosis];
  if (!cause || !reason) return failure;
  return new RelayError(redact(`SMTP: Exchange refused the access token: ${cause.observed}.`), {
    reason,
    kind: 'configuration',
    providerReply: failure.providerReply,
    ...advice(cause.diagnosis),
    cause: failure,
  });
}

/**
 * Gmail's refusal (334 challenge, then 535-5.7.8): Google tokens are opaque, so what the challenge
 * says (status, scope; decoded, the token itself never) is what the operator gets, with Google's remedy.
 */
function gmailRefusal(failure: RelayError, challenge: XOAuth2Challenge | undefined): RelayError {
  const said = challenge
    ? ` (its challenge: ${[`status ${challenge.status ?? '?'}`, challenge.schemes && `schemes ${challenge.schemes}`, challenge.scope && `scope ${challenge.scope}`].filter(Boolean).join(', ')})`
    : '';
  return new RelayError(redact(`SMTP: Gmail refused the access token${said}.`), {
    reason: 'smtp_auth_rejected',
    kind: 'configuration',
    providerReply: failure.providerReply,
    ...advice('gmail_token_refused'),
    cause: failure,
  });
}
