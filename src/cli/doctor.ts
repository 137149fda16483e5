/**
 * `oauth2-smtp-relay doctor`: runs the health checks in order against the
 * settings it is given (a fresh token, a new SMTP connection), stops at the
 * first failing one and explains, in plain words, which setup step to fix.
 */
import { loadConfig, type Environment, type RelayConfig } from '../settings';
import { silentLogger, type Logger } from '../core/log';
import { redact, redactingLogger } from '../core/redact';
import { createRelay, type Relay, type RelayIdentityOverrides } from '../app/runtime';
import { runChecks, type CheckReport, type CheckResult } from '../diagnostics/checks';
import { relayTarget } from '../diagnostics/target';
import { withIdentityEnvironment } from './identityEnvironment';

export interface DoctorOptions {
  env: Environment;
  /** Also send a test message to this address. */
  sendTo?: string;
  from?: string;
  logger?: Logger;
  /** Stand-ins for the managed identity (tests, the local run). */
  identity?: RelayIdentityOverrides;
}

/**
 * Runs the checks; the relay it builds for them is closed before returning.
 * Its credentials see the sign-in settings of `env` (the managed identity
 * endpoint among them), which @azure/identity reads only from process.env.
 */
export function runDoctor(options: DoctorOptions): Promise<CheckReport> {
  return withIdentityEnvironment(options.env, () => checkSettings(options));
}

async function checkSettings(options: DoctorOptions): Promise<CheckReport> {
  let relay: Relay | undefined;
  let config: RelayConfig | undefined;
  const load = () => {
    config ??= loadConfig(options.env);
    relay ??= createRelay(config, redactingLogger(options.logger ?? silentLogger), options.identity);
    return relay;
  };
  try {
    // The relay is new, so its token cache is empty: the token check asks the endpoint, through the relay's own secret source.
    return await runChecks(relayTarget(load), { stopAtFirstFailure: true, sendTo: options.sendTo, from: options.from });
  } finally {
    await relay?.close();
  }
}

const MARKS: Record<CheckResult['status'], string> = { ok: '[ ok ]', warning: '[warn]', failed: '[FAIL]', skipped: '[ -- ]' };

/** The report as an administrator reads it. */
export function formatReport(report: CheckReport): string {
  const lines: string[] = ['oauth2-smtp-relay doctor', ''];
  for (const check of report.checks) {
    const took = check.status === 'skipped' ? '' : ` (${check.durationMs} ms)`;
    lines.push(`${MARKS[check.status]} ${check.title}${took}`);
    if (check.detail) lines.push(`       ${check.detail}`);
    if (check.status === 'warning' && check.finding) lines.push(`       ${check.finding.finding} ${check.finding.fix}`);
  }
  lines.push('');
  const failure = report.firstFailure;
  if (!failure?.finding) {
    lines.push(report.ok ? 'All checks passed: the relay can reach, and log in to, the mail server.' : 'A check failed.');
    return redact(lines.join('\n')) + '\n';
  }
  const finding = failure.finding;
  lines.push(`What is wrong:   ${finding.finding}`);
  if (finding.steps.length > 0) {
    lines.push(`Setup step${finding.steps.length > 1 ? 's' : ''} to check:`);
    for (const step of finding.steps) lines.push(`  - ${step}`);
  }
  lines.push(`How to fix it:   ${finding.fix}`);
  if (finding.observed) lines.push(`What was seen:   ${finding.observed.replace(/\n/g, '\n                 ')}`);
  if (finding.providerReply) lines.push(`Server's reply:  ${finding.providerReply}`);
  return redact(lines.join('\n')) + '\n';
}
