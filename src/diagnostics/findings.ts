/**
 * Turns what a check observed (a classified RelayError, a ConfigError, a claim)
 * into a finding an administrator can act on: the diagnosis from the one list,
 * the setup steps by name, the fix, and what was actually seen.
 */
import type { ConfigError } from '../settings';
import type { ReasonCode, RelayError } from '../core/errors';
import { redact } from '../core/redact';
import { diagnosis, isDiagnosisId, remedyText, type DiagnosisId } from '../core/diagnoses';
import { stepLabel } from '../core/setupSteps';

export interface Finding {
  /** Absent only for failures no diagnosis covers (then `finding` is the error's own words). */
  diagnosis?: DiagnosisId;
  finding: string;
  /** Setup steps to fix, as labels ("Azure portal, step 6: client secret: copy its Value"). */
  steps: string[];
  fix: string;
  /** What the check saw: the claims, the settings' problems, the error. Never a secret or a token. */
  observed?: string;
  /** The provider's own reply (SMTP line, OAuth error). */
  providerReply?: string;
  reason?: ReasonCode;
}

const BY_REASON: Partial<Record<ReasonCode, DiagnosisId>> = {
  tenant_not_found: 'tenant_not_found',
  app_not_found: 'app_not_found',
  invalid_client_secret: 'invalid_client_secret',
  expired_client_secret: 'expired_client_secret',
  invalid_scope: 'invalid_scope',
  token_request_rejected: 'token_request_rejected',
  token_endpoint_unavailable: 'token_endpoint_unavailable',
  token_endpoint_throttled: 'token_endpoint_unavailable',
  smtp_unreachable: 'smtp_unreachable',
  smtp_timeout: 'smtp_timeout',
  smtp_tls_failed: 'smtp_tls_failed',
  smtp_auth_not_offered: 'smtp_auth_not_offered',
  smtp_auth_disabled: 'smtp_auth_disabled',
  smtp_auth_rejected: 'smtp_auth_rejected',
  basic_auth_unsupported: 'basic_auth_unsupported',
  token_audience_not_exchange: 'token_audience_not_exchange',
  token_role_missing: 'token_role_missing',
  token_wrong_tenant: 'token_wrong_tenant',
  token_wrong_app: 'token_wrong_app',
  exchange_access_missing: 'exchange_access_missing',
  mailbox_logon_failed: 'mailbox_logon_failed',
  send_as_denied: 'send_as_denied',
  sender_rejected: 'sender_refused',
  smtp_throttled: 'smtp_throttled',
  quota_exceeded: 'quota_exceeded',
  mailbox_full: 'mailbox_full',
  client_secret_is_id: 'key_vault_secret_is_id',
  message_too_large: 'message_too_large',
};

export function findingFor(id: DiagnosisId, seen: Pick<Finding, 'observed' | 'providerReply' | 'reason'> = {}): Finding {
  const entry = diagnosis(id);
  return clean({ diagnosis: id, finding: entry.finding, steps: entry.steps.map(stepLabel), fix: entry.fix, ...seen });
}

/**
 * The diagnosis of a classified failure: the one the classifier named (`error.diagnosis`,
 * e.g. the TLS case of an unreachable token endpoint); for a failure that names none, or
 * only a remedy with no row of its own, the one its reason code stands for.
 */
export function diagnosisOfError(error: RelayError): DiagnosisId | undefined {
  if (isDiagnosisId(error.diagnosis)) return error.diagnosis;
  return BY_REASON[error.reason];
}

export function findingOfError(error: RelayError, observed?: string): Finding {
  const seen = { observed: observed ?? error.message, providerReply: error.providerReply, reason: error.reason };
  const id = diagnosisOfError(error);
  if (id) return findingFor(id, seen);
  return clean({ finding: error.message, steps: [], fix: error.remedy ?? remedyText('see_provider_reply'), ...seen });
}

/** When settings problems name several diagnoses, the most telling comes first. */
const MOST_TELLING: DiagnosisId[] = ['client_secret_is_id', 'secret_unreadable', 'invalid_scope'];

/** Settings problems: the diagnosis a problem names (src/settings), the most telling if several; all problems are listed. */
export function findingOfConfigError(error: ConfigError): Finding {
  const observed = error.problems.map((item) => `${item.setting}: ${item.problem}`).join('\n');
  const named = error.problems.flatMap((item) => (item.diagnosis === undefined ? [] : [item.diagnosis]));
  const id = MOST_TELLING.find((candidate) => named.includes(candidate)) ?? named[0] ?? 'settings_invalid';
  return findingFor(id, { observed });
}

function clean(finding: Finding): Finding {
  const out: Finding = { ...finding };
  if (out.observed !== undefined) out.observed = redact(out.observed);
  if (out.providerReply !== undefined) out.providerReply = redact(out.providerReply);
  for (const key of Object.keys(out) as Array<keyof Finding>) if (out[key] === undefined) delete out[key];
  return out;
}
