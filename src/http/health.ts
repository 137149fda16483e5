/**
 * GET health: the doctor's checks against the process's own components, every
 * check reported (ok / warning / failed / skipped, its duration, the finding).
 * Cheap enough to poll: the token comes from the shared cache and the whole
 * report is reused for a short while; `?fresh=true` runs everything anew
 * (a new token from the endpoint, a new SMTP connection).
 */
import { runChecks, type CheckReport, type DiagnosticTarget } from '../diagnostics/checks';
import { redactValue } from '../redact';
import type { HttpAnswer, HttpInput } from './types';

export interface HealthOptions {
  /** How long a report is reused without fresh=true; default 60 s. */
  cacheTtlMs?: number;
  now?: () => number;
  /** This instance's delivery counters, reported as they are now (never from the cached report). */
  activity?: () => object | undefined;
}

export const DEFAULT_HEALTH_CACHE_TTL_MS = 60_000;

export type HealthHandler = (request: HttpInput) => Promise<HttpAnswer>;

export function createHealthHandler(target: () => DiagnosticTarget, options: HealthOptions = {}): HealthHandler {
  const ttl = options.cacheTtlMs ?? DEFAULT_HEALTH_CACHE_TTL_MS;
  const now = options.now ?? Date.now;
  let last: { report: CheckReport; at: number } | undefined;
  // Concurrent polls share one run instead of opening one SMTP connection each.
  let running: Promise<{ report: CheckReport; at: number }> | undefined;

  return async (request): Promise<HttpAnswer> => {
    if (request.method.toUpperCase() !== 'GET') {
      return { status: 405, jsonBody: { status: 'invalid', problem: 'only GET is accepted' }, headers: { allow: 'GET' } };
    }
    const fresh = /^(1|true|yes)$/i.test(request.query.get('fresh') ?? '');
    const reusable = !fresh && last !== undefined && now() - last.at < ttl;
    let result = reusable ? last! : undefined;
    if (!result) {
      const run = () => runChecks(target(), { fresh }).then((report) => (last = { report, at: now() }));
      if (fresh) {
        result = await run();
      } else {
        running ??= run().finally(() => {
          running = undefined;
        });
        result = await running;
      }
    }
    const { report, at } = result;
    const warned = report.checks.some((check) => check.status === 'warning');
    return {
      status: report.ok ? 200 : 503,
      headers: { 'cache-control': 'no-store' },
      jsonBody: redactValue({
        status: !report.ok ? 'unhealthy' : warned ? 'degraded' : 'healthy',
        checkedAt: new Date(at).toISOString(),
        fromCache: reusable,
        checks: report.checks,
        ...(options.activity ? { activity: currentActivity(options.activity) } : {}),
      }),
    };
  };
}

/** Counters must not make the health answer fail: a relay that cannot be built has none. */
function currentActivity(activity: () => object | undefined): object | undefined {
  try {
    return activity();
  } catch {
    return undefined;
  }
}
