/**
 * One tick of the monitor timer:
 *  1. pre-warm: read the client secret (Key Vault), get an access token and
 *     open an SMTP connection, so the next message after idle pays for none of them;
 *  2. check the secret's properties (expiry windows, no expiry, disabled), and
 *     notice a new version: logged as an event and proven by a fresh token;
 *  3. raise each alert once per condition (per secret version for the expiry
 *     windows), remembering what was raised in the storage account;
 *  4. optionally rotate the secret (src/monitor/rotation.ts);
 *  5. report what the send path met: a full mailbox, the daily quota.
 * It never throws for what it finds: findings are alerts.
 */
import type { MonitorSettings } from '../settings';
import { isRelayError, type RelayError } from '../core/errors';
import type { Logger } from '../core/log';
import { redact } from '../core/redact';
import type { ClientSecretProperties, ClientSecretProvider } from '../secrets/types';
import type { TokenCache } from '../token/tokenCache';
import type { MailSender } from '../smtp';
import { raiseAlert, type AlertChannel } from './alerts';
import { assessSecret, type Finding } from './assessSecret';
import { mailboxFindings, type MailboxCondition } from './mailboxConditions';
import type { MonitorState, MonitorStateStore } from './monitorState';

/** Rotation, when enabled (src/monitor/rotation.ts). */
export interface SecretRotationStep {
  run(input: { properties: ClientSecretProperties; state: MonitorState; now: number }, logger: Logger): Promise<Finding[]>;
}

export interface SecretMonitorDependencies {
  settings: Pick<MonitorSettings, 'warningDays' | 'criticalDays'>;
  /** Absent with federation (no secret) . */
  secrets?: ClientSecretProvider;
  /** Key Vault secret name, for alert texts. */
  secretName?: string;
  /** Absent when OAuth2 is off. */
  tokens?: TokenCache;
  /** Proves SMTP login (its own connection: nodemailer's pool cannot open one without a message). */
  sender: Pick<MailSender, 'verify'>;
  state: MonitorStateStore;
  channels: AlertChannel[];
  rotation?: SecretRotationStep;
  /** What the send path met on this instance (a full mailbox, the daily quota); absent: not reported. */
  mailbox?: { name?: string; current(now: number): MailboxCondition[] };
  now?: () => number;
}

export interface MonitorReport {
  secretVersion?: string;
  /** A version other than the one the previous tick saw. */
  rotationDetected: boolean;
  tokenOk?: boolean;
  smtpOk: boolean;
  /** Alerts raised by this tick (not the ones already raised before). */
  raised: string[];
  /** Conditions active now, raised now or earlier. */
  active: string[];
  /** With several senders (RELAY_SENDERS): each other sender's own report, by id. */
  senders?: Record<string, MonitorReport>;
}

export async function runSecretMonitor(deps: SecretMonitorDependencies, logger: Logger): Promise<MonitorReport> {
  const now = (deps.now ?? Date.now)();
  const { state, etag, stateReadable } = await loadState(deps.state, logger);
  const findings: Finding[] = [];
  /** Alert-key families evaluated this tick; keys of other families are kept as they are. */
  const evaluated = new Set<string>();
  const report: MonitorReport = { rotationDetected: false, smtpOk: false, raised: [], active: [] };

  // 1. The secret, read fresh from Key Vault (this also refreshes the relay's cached copy).
  let properties: ClientSecretProperties | undefined;
  if (deps.secrets && isKeyVault(deps.secrets)) {
    evaluated.add('vault');
    try {
      const latest = await deps.secrets.reload();
      properties = latest.properties;
    } catch (error) {
      findings.push(unreadable(deps, error));
    }
  }
  if (properties) {
    evaluated.add('secret');
    report.secretVersion = properties.version;
    if (state.secretVersion && properties.version && state.secretVersion !== properties.version) {
      report.rotationDetected = true;
      logger.info('the client secret was rotated: a new Key Vault version is current', {
        event: 'monitor.secret_rotated',
        secretName: deps.secretName,
        previousVersion: state.secretVersion,
        version: properties.version,
        expiresOn: properties.expiresOn?.toISOString(),
      });
    }
    state.secretVersion = properties.version ?? state.secretVersion;
    const kind = deps.secrets?.credential;
    const credential = kind && deps.secrets ? { kind, where: deps.secrets.description } : undefined;
    findings.push(...assessSecret(deps.secretName ?? 'client secret', properties, now, deps.settings, credential));
  }

  // 2. A new access token: proves signing in still works (a secret deleted or expired in Entra
  // shows here, not an hour later when the cached token runs out) and leaves it cached for the
  // next message. A failure keeps the cached token in use.
  if (deps.tokens) {
    evaluated.add('token');
    try {
      await deps.tokens.refresh();
      report.tokenOk = true;
      if (report.rotationDetected) {
        logger.info('the new client secret version works: an access token was issued with it', {
          event: 'monitor.rotation_verified',
          version: report.secretVersion,
        });
      }
    } catch (error) {
      report.tokenOk = false;
      findings.push(tokenFailed(error, report));
    }
  }

  // 3. An SMTP connection (authenticated with that token).
  if (report.tokenOk !== false) {
    try {
      await deps.sender.verify();
      report.smtpOk = true;
    } catch (error) {
      logger.warn('SMTP pre-warm failed', { event: 'monitor.smtp_prewarm_failed', ...relayJson(error) });
    }
  }

  // 4. Rotation, only with readable properties and a working token (the old secret signs the Graph calls).
  if (deps.rotation && properties && report.tokenOk) {
    evaluated.add('rotation');
    const rotationFindings = await deps.rotation.run({ properties, state, now }, logger).catch((error: unknown) => [rotationCrashed(error)]);
    if (state.secretVersion !== properties.version) {
      // Rotated this tick: what was found about the old version no longer applies.
      findings.splice(0, findings.length, ...findings.filter((finding) => !finding.key.startsWith('secret:')));
      report.secretVersion = state.secretVersion;
    }
    findings.push(...rotationFindings);
  }

  // 5. What the send path met since the last ticks (a full mailbox, the daily quota).
  if (deps.mailbox) {
    evaluated.add('mailbox');
    findings.push(...mailboxFindings(deps.mailbox.current(now), deps.mailbox.name));
  }

  // 6. Raise what is new, forget what has cleared (so a recurrence is raised again).
  const active = new Map(findings.map((finding) => [finding.key, finding]));
  const toRaise = [...active.values()].filter((finding) => !state.raised[finding.key]);
  for (const key of Object.keys(state.raised)) {
    if (evaluated.has(key.split(':')[0]!) && !active.has(key)) delete state.raised[key];
  }
  for (const finding of toRaise) state.raised[finding.key] = new Date(now).toISOString();
  report.active = [...active.keys()];

  const saved = stateReadable ? await saveState(deps.state, state, etag, logger) : 'failed';
  if (saved === 'conflict') {
    // Another instance ran the same tick and raised these: do not repeat them.
    logger.info('another instance updated the monitor state during this tick; its alerts stand', { event: 'monitor.state_conflict' });
    return report;
  }
  for (const finding of toRaise) {
    await raiseAlert(finding.alert, deps.channels, logger);
    report.raised.push(finding.key);
  }
  return report;
}

function isKeyVault(secrets: ClientSecretProvider): boolean {
  // A setting has no version to check and no properties to read; a certificate always has its notAfter.
  return secrets.store === 'key-vault' || secrets.credential === 'certificate';
}

async function loadState(store: MonitorStateStore, logger: Logger): Promise<{ state: MonitorState; etag?: string; stateReadable: boolean }> {
  try {
    const loaded = await store.load();
    return { ...loaded, stateReadable: true };
  } catch (error) {
    // Without the record alerts may repeat; without the checks they would be missed. Check anyway.
    logger.warn('the monitor state could not be read; alerts of this tick may repeat earlier ones', {
      event: 'monitor.state_unavailable',
      error: redact(error instanceof Error ? error.message : String(error)),
    });
    return { state: { raised: {} }, stateReadable: false };
  }
}

async function saveState(store: MonitorStateStore, state: MonitorState, etag: string | undefined, logger: Logger): Promise<'saved' | 'conflict' | 'failed'> {
  try {
    return (await store.save(state, etag)) ? 'saved' : 'conflict';
  } catch (error) {
    logger.warn('the monitor state could not be saved; the next tick may raise the same alerts again', {
      event: 'monitor.state_unavailable',
      error: redact(error instanceof Error ? error.message : String(error)),
    });
    return 'failed';
  }
}

function relayJson(error: unknown): Record<string, unknown> {
  if (isRelayError(error)) return error.toJSON();
  return { error: redact(error instanceof Error ? error.message : String(error)) };
}

function unreadable(deps: SecretMonitorDependencies, error: unknown): Finding {
  const failure = isRelayError(error) ? error : undefined;
  const reason = failure?.reason ?? 'internal_error';
  if (reason === 'secret_disabled') {
    return {
      key: 'vault:disabled',
      alert: {
        name: 'secret_disabled',
        severity: 'critical',
        summary: `The current version of Key Vault secret "${deps.secretName}" is disabled: no new access token can be obtained.`,
        remedy: failure?.remedy,
        details: { secretName: deps.secretName, reason, providerReply: failure?.providerReply },
      },
    };
  }
  return {
    // One key per reason: a vault that goes from "unreachable" to "access denied" is a new condition.
    key: `vault:unreadable:${reason}`,
    alert: {
      name: 'secret_unreadable',
      severity: failure?.kind === 'transient' ? 'warning' : 'critical',
      summary: `The client secret could not be read from Key Vault (${reason}); cached copies keep working until they expire.`,
      remedy: failure?.remedy,
      details: { secretName: deps.secretName, reason, kind: failure?.kind, message: failure?.message, providerReply: failure?.providerReply },
    },
  };
}

function tokenFailed(error: unknown, report: MonitorReport): Finding {
  const failure: RelayError | undefined = isRelayError(error) ? error : undefined;
  const reason = failure?.reason ?? 'internal_error';
  return {
    key: `token:failed:${reason}`,
    alert: {
      name: report.rotationDetected ? 'secret_rotation_failed' : 'token_acquisition_failed',
      severity: failure?.kind === 'transient' ? 'error' : 'critical',
      summary: report.rotationDetected
        ? `The new client secret version ${report.secretVersion} does not work: no access token (${reason}).`
        : `No access token can be obtained (${reason}): messages stay queued and are retried.`,
      remedy: failure?.remedy,
      details: {
        reason,
        kind: failure?.kind,
        message: failure?.message ?? redact(error instanceof Error ? error.message : String(error)),
        providerReply: failure?.providerReply,
        secretVersion: report.secretVersion,
      },
    },
  };
}

/** Rotation stopped on something unexpected (storage for the lease, Key Vault): the old secret is untouched. */
function rotationCrashed(error: unknown): Finding {
  const failure = isRelayError(error) ? error : undefined;
  return {
    key: 'rotation:failed:unexpected',
    alert: {
      name: 'secret_rotation_failed',
      severity: 'error',
      summary: 'Automatic rotation stopped on an unexpected error; the current client secret stays in use.',
      remedy: failure?.remedy,
      details: { reason: failure?.reason, message: failure?.message ?? redact(error instanceof Error ? error.message : String(error)) },
    },
  };
}
