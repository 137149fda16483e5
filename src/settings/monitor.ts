/** The monitor section: the timer's schedule, expiry alerts and their channels, the state container, secret rotation. */
import { echoSetting } from '../core/echo';
import { keyVaultOf } from './auth';
import { parseUrl } from './formats';
import type { SettingsReader } from './reader';
import { SETTINGS } from './spec';
import type { AuthSettings, MonitorSettings, RotationSettings } from './types';

/** NCRONTAB as the Functions timer takes it: six fields (seconds first). */
const NCRONTAB = /^\S+( \S+){5}$/;

export function readMonitor(reader: SettingsReader): MonitorSettings {
  const defaultSchedule = SETTINGS.MONITOR_SCHEDULE.default;
  const schedule = reader.get('MONITOR_SCHEDULE') ?? defaultSchedule;
  if (!NCRONTAB.test(schedule.replace(/\s+/g, ' '))) {
    reader.report(
      'MONITOR_SCHEDULE',
      `${echoSetting(schedule)} is not a six-field NCRONTAB expression (second minute hour day month weekday), e.g. ${defaultSchedule}`,
    );
  }
  const warningDays = reader.integer('ALERT_WARNING_DAYS');
  const criticalDays = reader.integer('ALERT_CRITICAL_DAYS');
  if (criticalDays > warningDays) {
    reader.report(
      'ALERT_CRITICAL_DAYS',
      `${criticalDays} is more than ALERT_WARNING_DAYS (${warningDays}): the critical window lies inside the warning window`,
    );
  }
  const alertEmailTo = reader.emailAddress('ALERT_EMAIL_TO', reader.get('ALERT_EMAIL_TO'));
  const webhookText = reader.get('ALERT_WEBHOOK_URL');
  let alertWebhookUrl: string | undefined;
  if (webhookText !== undefined) {
    if (parseUrl(webhookText)?.protocol === 'https:') alertWebhookUrl = webhookText;
    else reader.report('ALERT_WEBHOOK_URL', 'must be an https:// URL (an incoming webhook of Teams, Slack or similar)');
  }
  const stateContainer = reader.storageName('MONITOR_STATE_CONTAINER');
  const graphUrl = readGraphUrl(reader);
  const rotation: RotationSettings = {
    enabled: reader.boolean('ROTATION_ENABLED'),
    windowDays: reader.integer('ROTATION_WINDOW_DAYS'),
    lifetimeDays: reader.integer('ROTATION_SECRET_LIFETIME_DAYS'),
    graceMs: reader.integer('ROTATION_GRACE_HOURS') * 3_600_000,
    graphUrl,
  };
  if (rotation.enabled && rotation.lifetimeDays <= rotation.windowDays) {
    reader.report(
      'ROTATION_SECRET_LIFETIME_DAYS',
      `${rotation.lifetimeDays} must exceed ROTATION_WINDOW_DAYS (${rotation.windowDays}), or every new secret would be rotated at once`,
    );
  }
  const channels = { ...(alertEmailTo === undefined ? {} : { alertEmailTo }), ...(alertWebhookUrl === undefined ? {} : { alertWebhookUrl }) };
  return { schedule, warningDays, criticalDays, stateContainer, rotation, ...channels };
}

function readGraphUrl(reader: SettingsReader): string {
  const preset = SETTINGS.GRAPH_URL.default;
  const text = reader.get('GRAPH_URL');
  if (text === undefined) return preset;
  const url = parseUrl(text);
  if (url?.protocol === 'https:') return url.origin;
  reader.report('GRAPH_URL', `${echoSetting(text)} must be an https:// URL such as ${preset}`);
  return preset;
}

/** Rotation writes the new secret to Key Vault, and the old one must outlive every instance's cached copy. */
export function checkRotationNeeds(reader: SettingsReader, rotation: RotationSettings, auth: AuthSettings | undefined): void {
  if (!rotation.enabled || auth === undefined || auth.kind === 'password') return;
  const keyVault = keyVaultOf(auth);
  if (auth.kind === 'certificate') {
    reader.report(
      'ROTATION_ENABLED',
      "rotation renews client secrets; with OAUTH2_AUTH_MODE=certificate Key Vault renews the certificate (its policy's auto-renew): turn ROTATION_ENABLED off",
    );
  } else if (keyVault === undefined || auth.provider !== 'microsoft') {
    reader.report('ROTATION_ENABLED', 'rotation needs the client secret in Key Vault (KEYVAULT_URL, OAUTH2_CLIENT_SECRET_NAME) and Microsoft Entra ID');
  } else if (rotation.graceMs <= keyVault.cacheMs) {
    reader.report(
      'ROTATION_GRACE_HOURS',
      'must be longer than OAUTH2_CLIENT_SECRET_CACHE_SECONDS, so no instance still uses the old secret when it is removed',
    );
  }
}
