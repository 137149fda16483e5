/**
 * The timer's schedule, read when the registration loads (the Functions host
 * resolves no default for a %SETTING% binding expression, so an unset setting
 * would stop the whole app from starting).
 */
// The spec alone, not the settings readers: this runs while the function modules load (cold start).
import { DEFAULT_MONITOR_SCHEDULE } from '../settings/spec';

export function monitorSchedule(env: Record<string, string | undefined> = process.env): string {
  const value = env.MONITOR_SCHEDULE?.trim();
  return value ? value : DEFAULT_MONITOR_SCHEDULE;
}

/**
 * Not on startup: Microsoft advises against runOnStartup in production because every
 * restart and scale-out runs it. The timer runs on one instance at a time anyway, so a
 * startup run would warm only that instance; the first message on any instance fills
 * its own caches. The schedule alone keeps the alert checks regular.
 */
export const MONITOR_RUN_ON_STARTUP = false;
