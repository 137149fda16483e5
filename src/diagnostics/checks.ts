/**
 * The ordered checks the health endpoint and the doctor share: settings, client
 * secret, token, token claims, SMTP reachable, TLS, authentication, and (on
 * request) a test message. Each reports ok / warning / failed / skipped, how
 * long it took and, when it fails, a finding naming the setup step to fix.
 *
 * A check runs only when the checks it depends on passed; the doctor also stops
 * at the first failure. No check ever reports a token or a secret: the token
 * is read here, decoded locally, and only its non-secret claims are described.
 */
import { performance } from 'node:perf_hooks';
import type { SendMailOptions } from 'nodemailer';
import { ConfigError, oauthOf, type RelayConfig } from '../settings';
import { isRelayError, type ReasonCode, type RelayError } from '../core/errors';
import { remedyText } from '../core/diagnoses';
import { toMailOptions } from '../message/compose';
import { parseQueueMessage } from '../message/validate';
import { redact } from '../core/redact';
import type { AccessToken } from '../token';
import type { SentMessage } from '../delivery/ports';
import { findingFor, findingOfConfigError, findingOfError, type Finding } from './findings';
import { probeSmtp } from '../smtp/probe';
import { judgementOf, readToken, type GraphTokenReading } from '../token/claims';
import { graphClaimsCheck, graphMailboxCheck, graphTokenCheck, type GraphDiagnosticTarget } from './graphChecks';

export type { GraphDiagnosticTarget } from './graphChecks';

export type CheckId =
  | 'configuration'
  | 'secret'
  | 'token'
  | 'token_claims'
  | 'smtp_connect'
  | 'smtp_tls'
  | 'smtp_auth'
  // a Graph sender (transport graph or smtp-then-graph) only: graphChecks.ts
  | 'graph_token'
  | 'graph_token_claims'
  | 'graph_mailbox'
  | 'test_message'
  | 'graph_test_message';
export type CheckStatus = 'ok' | 'warning' | 'failed' | 'skipped';

export interface CheckResult {
  id: CheckId;
  title: string;
  status: CheckStatus;
  durationMs: number;
  /** What was checked and seen (never a secret). */
  detail?: string;
  /** For failed and warning checks. */
  finding?: Finding;
}

export interface CheckReport {
  /** No check failed (warnings and skipped checks allowed). */
  ok: boolean;
  checks: CheckResult[];
  firstFailure?: CheckResult;
}

/** What Key Vault (or the setting) says about the client secret; never its value. */
export interface SecretStatus {
  /** Where the secret comes from, e.g. "Key Vault https://v.vault.azure.net secret smtp-relay". */
  description: string;
  expiresOn?: Date;
  enabled?: boolean;
  /** A client certificate (OAUTH2_AUTH_MODE=certificate): its findings name the certificate, not a secret. */
  credential?: 'certificate' | 'service-account-key';
}

/** What the checks run against: the relay's own components, or ones built for the doctor. */
export interface DiagnosticTarget {
  /** The settings; throws ConfigError when they are wrong. */
  config(): RelayConfig;
  /** An access token: the shared cache's, or (fresh) a new one from the endpoint. Rejects with a RelayError. */
  token(fresh: boolean): Promise<AccessToken>;
  /** Where the client secret comes from and when it expires; undefined when no secret is used or it cannot be told. */
  secretStatus?(): Promise<SecretStatus | undefined>;
  /** Connect, secure, authenticate and quit, sending nothing (MailSender.verify). */
  verifySmtp(): Promise<void>;
  send(mail: SendMailOptions): Promise<SentMessage>;
  /** The sender's Graph side (transport graph or smtp-then-graph), once the settings are read; undefined for an SMTP sender. */
  graph?(): GraphDiagnosticTarget | undefined;
}

export interface RunOptions {
  /** Ask the token endpoint again instead of the shared token cache (the doctor's relay is new: its cache is empty anyway). */
  fresh?: boolean;
  /** The doctor: stop at the first failing check. */
  stopAtFirstFailure?: boolean;
  /** Also send a test message to this address (from MAIL_FROM, or `from`). */
  sendTo?: string;
  from?: string;
  now?: () => Date;
}

export const CHECK_TITLES: Record<CheckId, string> = {
  configuration: 'Settings are complete and valid',
  secret: 'Client secret is available and not expiring',
  token: 'An access token can be obtained',
  token_claims: 'The token is for Exchange Online and carries SMTP.SendAsApp',
  smtp_connect: 'The SMTP server is reachable',
  smtp_tls: 'The SMTP connection is encrypted',
  smtp_auth: 'SMTP authentication is accepted',
  graph_token: 'An access token for Microsoft Graph can be obtained',
  graph_token_claims: 'The Graph token is for Microsoft Graph and carries Mail.Send',
  graph_mailbox: 'The mailbox is reachable through Microsoft Graph',
  test_message: 'A test message is accepted',
  graph_test_message: 'A test message is accepted by Microsoft Graph',
};

/** Failures a login meets only once the server answered and the session is secured. */
const AUTH_STAGE_REASONS = new Set<ReasonCode>([
  'smtp_auth_rejected',
  'smtp_auth_disabled',
  'smtp_auth_not_offered',
  'mailbox_logon_failed',
  'basic_auth_unsupported',
  // a refused token, diagnosed from its claims
  'token_audience_not_exchange',
  'token_role_missing',
  'token_wrong_tenant',
  'token_wrong_app',
  'exchange_access_missing',
]);

type Outcome = Omit<CheckResult, 'id' | 'title' | 'durationMs'>;

export async function runChecks(target: DiagnosticTarget, options: RunOptions = {}): Promise<CheckReport> {
  const now = options.now ?? (() => new Date());
  const results: CheckResult[] = [];
  /** Checks that failed, or could not run because something they need failed. */
  const blocked = new Set<CheckId>();
  let stopped = false;

  /** A test message from MAIL_FROM (or `from`) to `sendTo`, sent by `send`. */
  async function testMessage(send: (mail: SendMailOptions) => Promise<SentMessage>): Promise<Outcome> {
    let mail: SendMailOptions;
    try {
      const message = parseQueueMessage(
        {
          to: [options.sendTo],
          ...(options.from ? { from: options.from } : {}),
          subject: 'oauth2-smtp-relay test message',
          text: `Sent by the oauth2-smtp-relay doctor at ${now().toISOString()} to check that mail goes through.`,
        },
        config!.mail,
      );
      mail = toMailOptions(message, config!.mail);
    } catch (error) {
      if (isRelayError(error)) return { status: 'failed', finding: findingOfError(error) };
      throw error;
    }
    try {
      const sent = await send(mail);
      const rejected = sent.rejected.length > 0 ? `; rejected ${sent.rejected.join(', ')}` : '';
      return { status: sent.accepted.length > 0 ? 'ok' : 'failed', detail: `${sent.messageId}: ${sent.response}${rejected}` };
    } catch (error) {
      if (isRelayError(error)) return { status: 'failed', finding: findingOfError(error) };
      throw error;
    }
  }

  async function check(id: CheckId, needs: CheckId[], body: () => Promise<Outcome>): Promise<void> {
    const title = CHECK_TITLES[id];
    const unmet = needs.find((need) => blocked.has(need));
    if (stopped || unmet) {
      blocked.add(id);
      const detail = stopped ? 'not run: an earlier check failed' : `not run: needs "${CHECK_TITLES[unmet!]}"`;
      results.push({ id, title, status: 'skipped', durationMs: 0, detail });
      return;
    }
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await body();
    } catch (error) {
      outcome = { status: 'failed', finding: unexpected(error) };
    }
    results.push({ id, title, durationMs: Math.round(performance.now() - started), ...outcome });
    if (outcome.status === 'failed') {
      blocked.add(id);
      if (options.stopAtFirstFailure) stopped = true;
    }
  }

  let config: RelayConfig | undefined;
  let graph: GraphDiagnosticTarget | undefined;
  let graphToken: AccessToken | undefined;
  let graphReading: GraphTokenReading | undefined;
  let token: AccessToken | undefined;
  let claimsVerified = false;
  /**
   * One SMTP session serves the three SMTP checks: the sender's own login (connect, TLS,
   * AUTH, QUIT) when there is a token to log in with, else the probe, which stops before
   * AUTH. A second session would only add a connection, or a login, to the mailbox.
   */
  let session: { failure?: RelayError; authOffered: boolean; login?: RelayError | 'ok' } | undefined;
  const logIn = (): Promise<RelayError | 'ok'> =>
    target.verifySmtp().then(
      () => 'ok' as const,
      (error: unknown) => {
        if (isRelayError(error)) return error;
        throw error;
      },
    );

  await check('configuration', [], async () => {
    try {
      config = target.config();
    } catch (error) {
      if (error instanceof ConfigError) return { status: 'failed', finding: findingOfConfigError(error) };
      throw error;
    }
    const oauth = oauthOf(config.auth);
    const auth = oauth ? `OAuth2 (${oauth.provider})` : 'password (OAuth2 off)';
    graph = target.graph?.();
    const smtp = `SMTP ${config.smtp.host}:${config.smtp.port} (${config.smtp.security})`;
    const via = !graph ? smtp : graph.transport === 'graph' ? `Microsoft Graph ${graph.url}` : `${smtp}, then Microsoft Graph ${graph.url}`;
    return { status: 'ok', detail: `${via} as ${config.mail.user}, ${auth}` };
  });
  /** A Graph-only sender: the SMTP checks do not apply. */
  const graphOnly = () => graph?.transport === 'graph';
  const NO_SMTP: Outcome = { status: 'skipped', detail: 'the transport is graph: this sender does not use SMTP' };

  await check('secret', ['configuration'], async () => {
    const oauth = oauthOf(config!.auth);
    if (!oauth) return { status: 'skipped', detail: 'OAuth2 is off: SMTP_PASSWORD is used' };
    if (oauth.kind === 'federation') return { status: 'skipped', detail: 'no client secret: the managed identity signs in for the app (federation)' };
    let status: SecretStatus | undefined;
    try {
      status = target.secretStatus ? await target.secretStatus() : undefined;
    } catch (error) {
      if (!isRelayError(error)) throw error;
      return { status: 'failed', finding: secretFinding(findingOfError(error), error.remedy) };
    }
    if (!status) return { status: 'ok', detail: 'no secret store to ask; the token check below tries the secret' };
    return secretOutcome(status, now(), warningDays(config!));
  });

  await check('token', ['configuration', 'secret'], async () => {
    if (graphOnly()) return NO_SMTP;
    if (config!.auth.kind === 'password') return { status: 'skipped', detail: 'OAuth2 is off' };
    try {
      token = await target.token(options.fresh ?? false);
    } catch (error) {
      if (isRelayError(error)) return { status: 'failed', finding: findingOfError(error) };
      throw error;
    }
    const from = options.fresh ? ', asked for now' : '';
    return { status: 'ok', detail: `token obtained${from}; expires ${new Date(token.expiresOnTimestamp).toISOString()}` };
  });

  await check('token_claims', ['token'], async () => {
    if (graphOnly()) return NO_SMTP;
    const oauth = oauthOf(config!.auth);
    if (!oauth || !token) return { status: 'skipped', detail: 'OAuth2 is off' };
    if (oauth.provider !== 'microsoft') return { status: 'skipped', detail: 'claims are checked for Microsoft Entra tokens only' };
    const reading = readToken(token.token, judgementOf(oauth));
    if (!reading) return { status: 'skipped', detail: 'the token is not a JWT, so its claims cannot be read locally' };
    const { seen, problems } = reading;
    if (problems.length > 0) {
      const observed = problems.map((problem) => problem.observed).join('; ');
      return { status: 'failed', detail: seen, finding: findingFor(problems[0]!.diagnosis, { observed }) };
    }
    claimsVerified = true;
    return { status: 'ok', detail: seen };
  });

  await check('smtp_connect', ['configuration'], async () => {
    if (graphOnly()) return NO_SMTP;
    const smtp = config!.smtp;
    if (!blocked.has('token') && !blocked.has('token_claims')) {
      const login = await logIn();
      // A login refused at AUTH got there through a secured session.
      const reachedAuth = login === 'ok' || AUTH_STAGE_REASONS.has(login.reason);
      session = { login, failure: reachedAuth ? undefined : login, authOffered: login === 'ok' || login.reason !== 'smtp_auth_not_offered' };
    } else {
      const probe = await probeSmtp(smtp);
      session = { failure: probe.failure, authOffered: probe.authOffered };
    }
    const where = `${smtp.host}:${smtp.port}`;
    // Everything but a TLS failure (refused, unknown host, timeout, a 5xx greeting) is this check's.
    if (session.failure && session.failure.reason !== 'smtp_tls_failed') {
      return { status: 'failed', detail: where, finding: findingOfError(session.failure) };
    }
    return { status: 'ok', detail: `${where} answered` };
  });

  await check('smtp_tls', ['smtp_connect'], async () => {
    if (graphOnly()) return NO_SMTP;
    if (session!.failure) return { status: 'failed', finding: findingOfError(session!.failure) };
    const how = config!.smtp.security === 'starttls' ? 'STARTTLS' : 'implicit TLS';
    return { status: 'ok', detail: `${how} up, certificate trusted; AUTH ${session!.authOffered ? 'offered' : 'NOT offered'}` };
  });

  await check('smtp_auth', ['smtp_tls', 'token', 'token_claims'], async () => {
    if (graphOnly()) return NO_SMTP;
    // smtp_connect has logged in already whenever the token checks passed.
    const error = session!.login ?? (await logIn());
    // smtp-then-graph meets 535 5.7.139 by design: its messages go through Graph, checked below.
    if (error !== 'ok' && error.reason === 'smtp_auth_disabled' && graph) {
      return {
        status: 'warning',
        detail: 'SMTP AUTH is disabled: this sender sends through Microsoft Graph instead (checked below)',
        finding: findingOfError(error),
      };
    }
    if (error !== 'ok') {
      if (error.reason === 'smtp_auth_rejected' && claimsVerified) {
        return {
          status: 'failed',
          finding: findingFor('exchange_access_missing', {
            observed: "the token's audience, roles, tenant and app are what Exchange requires, yet Exchange refused it",
            providerReply: error.providerReply,
            reason: error.reason,
          }),
        };
      }
      return { status: 'failed', finding: findingOfError(error) };
    }
    const method = config!.auth.kind === 'password' ? 'password' : 'XOAUTH2';
    return { status: 'ok', detail: `${method} login accepted for ${config!.mail.user}` };
  });

  if (graph) {
    const side = graph;
    await check('graph_token', ['configuration', 'secret'], async () => {
      const { token: got, ...outcome } = await graphTokenCheck(side, options.fresh ?? false);
      graphToken = got;
      return outcome;
    });
    await check('graph_token_claims', ['graph_token'], async () => {
      const oauth = oauthOf(config!.auth);
      if (!oauth) return { status: 'skipped', detail: 'OAuth2 is off' };
      const { reading, ...outcome } = graphClaimsCheck(side, graphToken!, judgementOf(oauth));
      graphReading = reading;
      return outcome;
    });
    await check('graph_mailbox', ['graph_token', 'graph_token_claims'], () => graphMailboxCheck(side, graphToken!, graphReading));
  }

  if (options.sendTo !== undefined) {
    // The sender's own path: SMTP (smtp-then-graph falls back as it would for a queued message), or Graph alone.
    const needs: CheckId[] = graphOnly() ? ['graph_mailbox'] : ['smtp_auth'];
    await check('test_message', needs, () => testMessage((mail) => target.send(mail)));
    // smtp-then-graph: Graph proves itself with a message of its own, through the Graph sender.
    if (graph && !graphOnly()) await check('graph_test_message', ['graph_mailbox'], () => testMessage((mail) => graph!.send(mail)));
  }

  const firstFailure = results.find((result) => result.status === 'failed');
  return { ok: !firstFailure, checks: results, ...(firstFailure ? { firstFailure } : {}) };
}

function secretOutcome(status: SecretStatus, now: Date, warnDays: number): Outcome {
  if (status.enabled === false) {
    return { status: 'failed', detail: status.description, finding: findingFor('secret_unreadable', { observed: 'the secret is disabled in Key Vault' }) };
  }
  if (!status.expiresOn)
    return { status: 'ok', detail: `${status.description}; its expiry date is not known here (Key Vault keeps one when the secret is stored with an expiry)` };
  const expires = status.expiresOn.toISOString();
  const daysLeft = Math.floor((status.expiresOn.getTime() - now.getTime()) / 86_400_000);
  const detail = `${status.description}; expires ${expires}`;
  const certificate = status.credential === 'certificate';
  if (status.credential === 'service-account-key' && status.expiresOn.getTime() - now.getTime() < warnDays * 86_400_000) {
    const observed = `the service account key's Key Vault secret expires on ${expires}, in ${Math.max(0, daysLeft)} days`;
    return { status: status.expiresOn.getTime() <= now.getTime() ? 'failed' : 'warning', detail, finding: findingFor('google_key_expiring', { observed }) };
  }
  if (status.expiresOn.getTime() <= now.getTime()) {
    const diagnosis = certificate ? 'certificate_expiring' : 'expired_client_secret';
    return { status: 'failed', detail, finding: findingFor(diagnosis, { observed: `the ${certificate ? 'certificate' : 'secret'} expired on ${expires}` }) };
  }
  if (daysLeft < warnDays) {
    const diagnosis = certificate ? 'certificate_expiring' : 'secret_expiring';
    const observed = `the ${certificate ? 'certificate' : 'secret'} expires on ${expires}, in ${daysLeft} days`;
    return { status: 'warning', detail, finding: findingFor(diagnosis, { observed }) };
  }
  return { status: 'ok', detail };
}

/** A secret store failure: its own diagnosis when it has one, else "secret unreadable" with the store's remedy. */
function secretFinding(finding: Finding, remedy: string | undefined): Finding {
  if (finding.diagnosis) return finding;
  const { observed, providerReply, reason } = finding;
  const general = findingFor('secret_unreadable', { observed, providerReply, reason });
  return remedy ? { ...general, fix: remedy } : general;
}

/** Days before expiry from which the secret check warns: the monitor's ALERT_WARNING_DAYS. */
function warningDays(config: RelayConfig): number {
  return config.monitor.warningDays;
}

/** A failure nothing classified: its words (redacted), never its stack. */
function unexpected(error: unknown): Finding {
  if (isRelayError(error)) return findingOfError(error);
  const text = error instanceof Error ? error.message : String(error);
  return { finding: `unexpected error: ${redact(text)}`, steps: [], fix: remedyText('doctor_unexpected_error') };
}
