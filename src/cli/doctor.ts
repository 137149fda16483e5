/**
 * `oauth2-smtp-relay doctor`: runs the health checks in order against the
 * settings it is given (a fresh token, a new SMTP connection), stops at the
 * first failing one and explains, in plain words, which setup step to fix.
 */
import type { Environment } from '../settings';
import { redact } from '../core/redact';
import { runChecks, type CheckReport, type CheckResult, type DiagnosticTarget } from '../diagnostics/checks';
import { withIdentityEnvironment } from './identityEnvironment';

export interface DoctorOptions {
  env: Environment;
  /** Also send a test message to this address. */
  sendTo?: string;
  from?: string;
}

/** What the checks run against, built from the settings (src/app/diagnostics.ts); closed after the checks. */
export interface DoctorTarget {
  target: DiagnosticTarget;
  close(): Promise<void>;
}

/**
 * Runs the checks against the target `open` builds from the settings, and closes it
 * before returning. Its credentials see the sign-in settings of `env` (the managed
 * identity endpoint among them), which @azure/identity reads only from process.env.
 */
export function runDoctor(options: DoctorOptions, open: (env: Environment) => DoctorTarget): Promise<CheckReport> {
  return withIdentityEnvironment(options.env, () => checkSettings(options, open));
}

async function checkSettings(options: DoctorOptions, open: (env: Environment) => DoctorTarget): Promise<CheckReport> {
  const opened = open(options.env);
  try {
    return await runChecks(opened.target, { stopAtFirstFailure: true, sendTo: options.sendTo, from: options.from });
  } finally {
    await opened.close();
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
