/**
 * GET health: the doctor's checks against the process's own components, every
 * check reported (ok / warning / failed / skipped, its duration, the finding).
 * Cheap enough to poll: the token comes from the shared cache and the whole
 * report is reused for a short while; `?fresh=true` runs everything anew
 * (a new token from the endpoint, a new SMTP login).
 *
 * Anyone with the function key can call it, and each run logs in to the
 * mailbox, so runs never pile up: at most one is in flight per instance (every
 * concurrent caller shares it), and a fresh run starts at most once per
 * minimum interval; in between, fresh callers get the last result with its age
 * and the time a fresh run is next allowed.
 */
import { runChecks, type CheckReport, type DiagnosticTarget } from '../diagnostics/checks';
import { redactValue } from '../core/redact';
import type { HttpAnswer, HttpInput } from './types';

export interface HealthOptions {
  /** How long a report is reused without fresh=true; default 60 s. */
  cacheTtlMs?: number;
  /** Least time between two fresh runs on this instance; default 30 s. */
  freshMinIntervalMs?: number;
  now?: () => number;
  /** This instance's delivery counters, reported as they are now (never from the cached report). */
  activity?: () => object | undefined;
  /** With several senders (RELAY_SENDERS): every sender's target, the default one first; each is checked and listed. */
  senders?: () => Array<{ id: string; target: DiagnosticTarget }>;
}

/** A run's report; with several senders, each one's as well (the top-level checks are the default sender's). */
type HealthReport = CheckReport & { senders?: Array<CheckReport & { sender: string }> };

export const DEFAULT_HEALTH_CACHE_TTL_MS = 60_000;
/**
 * At most two fresh logins a minute per instance (plus one for the cached report): far inside
 * what a mailbox takes next to its own mail, and short enough to watch a fix take effect.
 */
export const DEFAULT_HEALTH_FRESH_MIN_INTERVAL_MS = 30_000;

export type HealthHandler = (request: HttpInput) => Promise<HttpAnswer>;

interface Run {
  report: HealthReport;
  /** When the run finished. */
  at: number;
}

interface Answer {
  run: Run;
  /** Answered from an earlier run rather than one started for (or while) this call. */
  reused: boolean;
  /** A fresh run was asked for but not allowed yet: when it will be. */
  nextFreshAt?: number;
}

export function createHealthHandler(target: () => DiagnosticTarget, options: HealthOptions = {}): HealthHandler {
  const ttl = options.cacheTtlMs ?? DEFAULT_HEALTH_CACHE_TTL_MS;
  const freshInterval = options.freshMinIntervalMs ?? DEFAULT_HEALTH_FRESH_MIN_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let last: Run | undefined;
  let lastFreshAt: number | undefined;
  let running: { fresh: boolean; done: Promise<Run> } | undefined;

  /** Every sender's checks one after the other: each logs in to its own mailbox once per run. */
  async function check(fresh: boolean): Promise<HealthReport> {
    const all = options.senders?.() ?? [];
    if (all.length <= 1) return runChecks(target(), { fresh });
    const senders: Array<CheckReport & { sender: string }> = [];
    for (const one of all) senders.push({ sender: one.id, ...(await runChecks(one.target, { fresh })) });
    return { ok: senders.every((one) => one.ok), checks: senders[0]!.checks, senders };
  }

  function start(fresh: boolean): Promise<Run> {
    const done: Promise<Run> = check(fresh)
      .then((report) => {
        last = { report, at: now() };
        if (fresh) lastFreshAt = last.at;
        return last;
      })
      .finally(() => {
        if (running?.done === done) running = undefined;
      });
    running = { fresh, done };
    return done;
  }

  async function answer(fresh: boolean): Promise<Answer> {
    for (;;) {
      if (!fresh) {
        if (last && now() - last.at < ttl) return { run: last, reused: true };
        return { run: await (running?.done ?? start(false)), reused: false };
      }
      // A failed run counts too: failed logins are what lock a mailbox out.
      if (last && lastFreshAt !== undefined && now() - lastFreshAt < freshInterval) {
        return { run: last, reused: true, nextFreshAt: lastFreshAt + freshInterval };
      }
      if (running?.fresh) return { run: await running.done, reused: false };
      if (!running) return { run: await start(true), reused: false };
      // A plain run holds the one slot: wait for it, then decide again (one fresh caller starts, the rest join).
      await running.done.catch(() => undefined);
    }
  }

  return async (request): Promise<HttpAnswer> => {
    if (request.method.toUpperCase() !== 'GET') {
      return { status: 405, jsonBody: { status: 'invalid', problem: 'only GET is accepted' }, headers: { allow: 'GET' } };
    }
    const fresh = /^(1|true|yes)$/i.test(request.query.get('fresh') ?? '');
    const { run, reused, nextFreshAt } = await answer(fresh);
    const { report, at } = run;
    const ageSeconds = Math.max(0, Math.floor((now() - at) / 1000));
    const warned = [report, ...(report.senders ?? [])].some((one) => one.checks.some((check) => check.status === 'warning'));
    return {
      status: report.ok ? 200 : 503,
      // Age (RFC 9111): how old the result is, for monitors that read headers only.
      headers: { 'cache-control': 'no-store', age: String(ageSeconds) },
      jsonBody: redactValue({
        status: !report.ok ? 'unhealthy' : warned ? 'degraded' : 'healthy',
        checkedAt: new Date(at).toISOString(),
        ageSeconds,
        fromCache: reused,
        ...(nextFreshAt !== undefined ? { nextFreshAt: new Date(nextFreshAt).toISOString() } : {}),
        checks: report.checks,
        ...(report.senders ? { senders: report.senders.map((one) => ({ sender: one.sender, status: statusOf(one), checks: one.checks })) } : {}),
        ...(options.activity ? { activity: currentActivity(options.activity) } : {}),
      }),
    };
  };
}

function statusOf(report: CheckReport): 'healthy' | 'degraded' | 'unhealthy' {
  if (!report.ok) return 'unhealthy';
  return report.checks.some((check) => check.status === 'warning') ? 'degraded' : 'healthy';
}

/** Counters must not make the health answer fail: a relay that cannot be built has none. */
function currentActivity(activity: () => object | undefined): object | undefined {
  try {
    return activity();
  } catch {
    return undefined;
  }
}
