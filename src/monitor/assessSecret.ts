/**
 * What the properties of the current Key Vault version say about the client
 * secret: expired, inside the critical or warning window, no expiry recorded,
 * or disabled. Pure: the monitor decides what to raise and when.
 */
import type { ClientSecretProperties } from '../secrets/types';
import { remedyText } from '../core/diagnoses';
import type { Alert } from './alerts';

export interface ExpiryWindows {
  warningDays: number;
  criticalDays: number;
}

/** An alert with the key that says "the same condition": raised once per key. */
export interface Finding {
  key: string;
  alert: Alert;
}

const DAY_MS = 86_400_000;

const NEW_SECRET_REMEDY = remedyText('secret_renewal');

/** A client certificate (OAUTH2_AUTH_MODE=certificate) instead of a client secret; `where` names it (vault or file). */
export interface CertificateCredential {
  kind: 'certificate';
  where: string;
}

/** A Google service account's JSON key (OAUTH2_PROVIDER=google); `where` names its Key Vault secret. */
export interface ServiceAccountKeyCredential {
  kind: 'service-account-key';
  where: string;
}

export function assessSecret(
  secretName: string,
  props: ClientSecretProperties,
  now: number,
  windows: ExpiryWindows,
  certificate?: CertificateCredential | ServiceAccountKeyCredential,
): Finding[] {
  const version = props.version ?? 'unversioned';
  const base = { secretName, version };
  /** The one finding for this version; `condition` keys it, so each is raised once per version. */
  const found = (condition: string, alert: Alert): Finding[] => [{ key: `secret:${condition}:${version}`, alert }];
  if (!props.enabled) {
    return found('disabled', {
      name: 'secret_disabled',
      severity: 'critical',
      summary: `The current version of Key Vault secret "${secretName}" is disabled: no new access token can be obtained.`,
      remedy: remedyText('secret_version_disabled'),
      details: base,
    });
  }
  if (certificate?.kind === 'service-account-key') return assessServiceAccountKey(secretName, props, now, windows, certificate.where);
  if (certificate) return assessCertificate(secretName, props, now, windows, certificate.where);
  if (!props.expiresOn) {
    return found('no_expiry', {
      name: 'secret_no_expiry',
      severity: 'warning',
      summary: `Key Vault secret "${secretName}" has no expiry date, but the client secret in Microsoft Entra ID still expires (at most 24 months after it was created).`,
      remedy: remedyText('secret_without_expiry'),
      details: base,
    });
  }
  const expiresOn = props.expiresOn.toISOString();
  const daysLeft = (props.expiresOn.getTime() - now) / DAY_MS;
  const details = { ...base, expiresOn, daysLeft: Math.max(0, Math.floor(daysLeft)) };
  if (daysLeft <= 0) {
    const summary = `The client secret in Key Vault secret "${secretName}" expired on ${expiresOn}: mail stops as soon as the cached token runs out.`;
    return found('expired', { name: 'secret_expired', severity: 'critical', summary, remedy: NEW_SECRET_REMEDY, details });
  }
  if (daysLeft <= windows.criticalDays) {
    const summary = `The client secret in Key Vault secret "${secretName}" expires in ${Math.ceil(daysLeft)} day(s), on ${expiresOn}.`;
    return found('expiry_critical', { name: 'secret_expiry_critical', severity: 'critical', summary, remedy: NEW_SECRET_REMEDY, details });
  }
  if (daysLeft <= windows.warningDays) {
    const summary = `The client secret in Key Vault secret "${secretName}" expires in ${Math.ceil(daysLeft)} days, on ${expiresOn}.`;
    return found('expiry_warning', { name: 'secret_expiry_warning', severity: 'warning', summary, remedy: NEW_SECRET_REMEDY, details });
  }
  return [];
}

const CERTIFICATE_RENEWAL = remedyText('certificate_renewal');

/**
 * The client certificate's expiry: the earlier of its notAfter and the Key Vault secret's `expires`
 * (ClientCertificateProvider gives it). Same windows, alert names and keys as for a secret, so the
 * channels and the state need nothing new; the texts say certificate.
 */
function assessCertificate(name: string, props: ClientSecretProperties, now: number, windows: ExpiryWindows, where: string): Finding[] {
  const version = props.version ?? 'unversioned';
  const found = (condition: string, alert: Alert): Finding[] => [{ key: `secret:${condition}:${version}`, alert }];
  if (!props.expiresOn) return [];
  const expiresOn = props.expiresOn.toISOString();
  const daysLeft = (props.expiresOn.getTime() - now) / DAY_MS;
  const details = { secretName: name, version, credential: 'certificate', expiresOn, daysLeft: Math.max(0, Math.floor(daysLeft)) };
  if (daysLeft <= 0) {
    const summary = `The client certificate in ${where} expired on ${expiresOn}: mail stops as soon as the cached token runs out.`;
    return found('expired', { name: 'secret_expired', severity: 'critical', summary, remedy: CERTIFICATE_RENEWAL, details });
  }
  const summary = `The client certificate in ${where} expires in ${Math.ceil(daysLeft)} day(s), on ${expiresOn}.`;
  if (daysLeft <= windows.criticalDays) {
    return found('expiry_critical', { name: 'secret_expiry_critical', severity: 'critical', summary, remedy: CERTIFICATE_RENEWAL, details });
  }
  if (daysLeft <= windows.warningDays) {
    return found('expiry_warning', { name: 'secret_expiry_warning', severity: 'warning', summary, remedy: CERTIFICATE_RENEWAL, details });
  }
  return [];
}

const GOOGLE_KEY_RENEWAL = remedyText('google_key_renewal');

/**
 * A Google key expires only when the organization sets a key expiry (iam.serviceAccountKeyExpiryHours), and
 * then the Key Vault secret carries it (setup-google.sh sets --expires from the key's validBeforeTime): no
 * expiry recorded is no alert. Same windows, alert names and keys as for a secret; the texts say key.
 */
function assessServiceAccountKey(name: string, props: ClientSecretProperties, now: number, windows: ExpiryWindows, where: string): Finding[] {
  const version = props.version ?? 'unversioned';
  const found = (condition: string, alert: Alert): Finding[] => [{ key: `secret:${condition}:${version}`, alert }];
  if (!props.expiresOn) return [];
  const expiresOn = props.expiresOn.toISOString();
  const daysLeft = (props.expiresOn.getTime() - now) / DAY_MS;
  const details = { secretName: name, version, credential: 'service-account-key', expiresOn, daysLeft: Math.max(0, Math.floor(daysLeft)) };
  if (daysLeft <= 0) {
    const summary = `The Google service account key in ${where} expired on ${expiresOn}: mail stops as soon as the cached token runs out.`;
    return found('expired', { name: 'secret_expired', severity: 'critical', summary, remedy: GOOGLE_KEY_RENEWAL, details });
  }
  const summary = `The Google service account key in ${where} expires in ${Math.ceil(daysLeft)} day(s), on ${expiresOn}.`;
  if (daysLeft <= windows.criticalDays) {
    return found('expiry_critical', { name: 'secret_expiry_critical', severity: 'critical', summary, remedy: GOOGLE_KEY_RENEWAL, details });
  }
  if (daysLeft <= windows.warningDays) {
    return found('expiry_warning', { name: 'secret_expiry_warning', severity: 'warning', summary, remedy: GOOGLE_KEY_RENEWAL, details });
  }
  return [];
}
