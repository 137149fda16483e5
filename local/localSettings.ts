/**
 * The local run's settings at each start: the stack's own values (where Azurite, the
 * token endpoint and the SMTP server listen now, the client it knows, the mailbox it
 * authorises) always win; every other value the user put in .local/settings.json (or
 * local.settings.json) stays; and a relay setting in the environment
 * (`MAIL_ALLOWED_FROM=… ./dev local`) applies to this run without being written down.
 */
import { SETTINGS } from '../src/settings/spec';

/** The values that point the relay at the running stack: a different value could only break the run. */
export const STACK_OWNED = [
  'AzureWebJobsStorage',
  'SMTP_HOST',
  'SMTP_PORT',
  'SMTP_SECURITY',
  'TLS_EXTRA_CA_FILE',
  'OAUTH2_ENABLED',
  'OAUTH2_TOKEN_URL',
  'OAUTH2_CLIENT_ID',
  'OAUTH2_CLIENT_SECRET',
  'SMTP_USER',
] as const;

const owned = new Set<string>(STACK_OWNED);
const settingNames = new Set<string>(['AzureWebJobsStorage', ...Object.keys(SETTINGS)]);

export interface MergedSettings {
  /** What the file keeps: the stack's values over the user's. */
  file: Record<string, string>;
  /** What this run uses: the file's values, then the environment's overrides. */
  effective: Record<string, string>;
  /** Names whose value is not the stack's default, and where it comes from. */
  overrides: Array<{ name: string; from: 'environment' | 'file' }>;
  /** Relay settings in the environment that the stack's own values replaced. */
  ignored: string[];
}

export function mergeLocalSettings(stack: Record<string, string>, previous: Record<string, string> | undefined, env: NodeJS.ProcessEnv): MergedSettings {
  const overrides: MergedSettings['overrides'] = [];
  const ignored: MergedSettings['ignored'] = [];
  const file: Record<string, string> = { ...stack };
  for (const [name, value] of Object.entries(previous ?? {})) {
    if (typeof value !== 'string') continue;
    // A stack value from an earlier run (a port, a path) is simply stale: the stack's wins, unreported.
    if (owned.has(name)) continue;
    file[name] = value;
    if (stack[name] !== value) overrides.push({ name, from: 'file' });
  }
  const effective = { ...file };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !settingNames.has(name)) continue;
    if (owned.has(name)) {
      if (value !== stack[name]) ignored.push(name);
      continue;
    }
    effective[name] = value;
    const listed = overrides.findIndex((entry) => entry.name === name);
    if (listed >= 0) overrides.splice(listed, 1);
    if (value !== stack[name] || value !== file[name]) overrides.push({ name, from: 'environment' });
  }
  return { file, effective, overrides, ignored };
}

/** For the startup output: names and where they come from, never values (some are secrets). */
export function describeOverrides(merged: MergedSettings, fileName: string): string[] {
  const from = (source: 'environment' | 'file') => (source === 'file' ? fileName : 'the environment');
  const lines: string[] = [];
  if (merged.overrides.length > 0) lines.push(`  overrides       ${merged.overrides.map((entry) => `${entry.name} (${from(entry.from)})`).join(', ')}`);
  if (merged.ignored.length > 0) lines.push(`  ignored         ${merged.ignored.join(', ')} (the environment): the local stack's own values win`);
  return lines;
}
