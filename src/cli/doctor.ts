/**
 * `oauth2-smtp-relay doctor`: runs the health checks in order against the
 * settings it is given (a fresh token, a new SMTP connection), stops at the
 * first failing one and explains, in plain words, which setup step to fix.
 * With several senders (RELAY_SENDERS) it checks each one (or the one --sender
 * names), each section headed by the sender's id.
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
  /** Check only this sender (an id of RELAY_SENDERS, or "default"); absent: every sender. */
  sender?: string;
}

/** One sender's checks. */
export interface SenderTarget {
  id: string;
  target: DiagnosticTarget;
}

/** The doctor's answer: with several senders (or --sender), one report per sender as well. */
export type DoctorReport = CheckReport & { senders?: Array<CheckReport & { sender: string }> };

/** --sender names no sender of the settings. */
export class UnknownSenderError extends Error {
  constructor(id: string, known: string[]) {
    super(`--sender ${JSON.stringify(id)}: no such sender in the settings (senders: ${known.join(', ')})`);
    this.name = 'UnknownSenderError';
  }
}

/** What the checks run against, built from the settings (src/app/diagnostics.ts); closed after the checks. */
export interface DoctorTarget {
  target: DiagnosticTarget;
  /** Every sender's target, the default one first (absent: the default sender only). */
  senders?(): SenderTarget[];
  close(): Promise<void>;
}

/**
 * Runs the checks against the target `open` builds from the settings, and closes it
 * before returning. Its credentials see the sign-in settings of `env` (the managed
 * identity endpoint among them), which @azure/identity reads only from process.env.
 */
export function runDoctor(options: DoctorOptions, open: (env: Environment) => DoctorTarget): Promise<DoctorReport> {
  return withIdentityEnvironment(options.env, () => checkSettings(options, open));
}

async function checkSettings(options: DoctorOptions, open: (env: Environment) => DoctorTarget): Promise<DoctorReport> {
  const opened = open(options.env);
  const run = (target: DiagnosticTarget) => runChecks(target, { stopAtFirstFailure: true, sendTo: options.sendTo, from: options.from });
  try {
    const all = opened.senders?.() ?? [{ id: 'default', target: opened.target }];
    const chosen = options.sender === undefined ? all : all.filter((one) => one.id === options.sender);
    if (chosen.length === 0)
      throw new UnknownSenderError(
        options.sender!,
        all.map((one) => one.id),
      );
    // One sender, not named: today's report, unchanged.
    if (options.sender === undefined && chosen.length === 1) return await run(chosen[0]!.target);
    const senders: Array<CheckReport & { sender: string }> = [];
    for (const one of chosen) senders.push({ sender: one.id, ...(await run(one.target)) });
    const failed = senders.find((one) => !one.ok);
    const report: DoctorReport = { ok: failed === undefined, checks: senders[0]!.checks, senders };
    if (failed?.firstFailure) report.firstFailure = failed.firstFailure;
    return report;
  } finally {
    await opened.close();
  }
}

const MARKS: Record<CheckResult['status'], string> = { ok: '[ ok ]', warning: '[warn]', failed: '[FAIL]', skipped: '[ -- ]' };

/** The report as an administrator reads it: with several senders, one section per sender headed by its id. */
export function formatReport(report: DoctorReport): string {
  if (!report.senders) return formatChecks(report, ['oauth2-smtp-relay doctor', '']);
  const sections = report.senders.map((one) => formatChecks(one, [`== sender ${one.sender} ==`, '']));
  const verdict = report.ok
    ? 'All senders passed.'
    : `Failed: ${report.senders
        .filter((one) => !one.ok)
        .map((one) => one.sender)
        .join(', ')}.`;
  return redact(['oauth2-smtp-relay doctor', '', ...sections, verdict].join('\n')) + '\n';
}

function formatChecks(report: CheckReport, heading: string[]): string {
  const lines: string[] = [...heading];
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
