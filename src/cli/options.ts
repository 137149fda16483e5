/** What every command shares: its options parsed strictly, the usage error, the settings a --settings file adds. */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { Environment } from '../settings';

/** A command line that cannot be run: exit code 2 with the usage. */
export class UsageError extends Error {}

export type ParsedOptions = Record<string, string | boolean | string[] | undefined>;

export function parse(args: string[], options: ParseArgsOptionsConfig): ParsedOptions {
  return parseWithPositionals(args, options, 0).values;
}

/** Options and exactly `positionals` positional arguments (e.g. `status <id>`). */
export function parseWithPositionals(args: string[], options: ParseArgsOptionsConfig, positionals: number): { values: ParsedOptions; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`);
  }
  return { values: parsed.values as ParsedOptions, positionals: parsed.positionals };
}

/** The Values of a local.settings.json (or a flat JSON object of settings). */
export function readSettingsFile(path: string): Environment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--settings: cannot read ${path} as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const record = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const values = record.Values && typeof record.Values === 'object' ? (record.Values as Record<string, unknown>) : record;
  const env: Environment = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') env[name] = String(value);
  }
  return env;
}

/** The settings a command runs with: the environment, overlaid by the Values of `--settings` (and those Values alone, for the identity variables). */
export function commandSettings(settingsPath: string | boolean | string[] | undefined, env: Environment): { env: Environment; fileSettings: Environment } {
  const fileSettings = typeof settingsPath === 'string' ? readSettingsFile(settingsPath) : {};
  return { env: { ...env, ...fileSettings }, fileSettings };
}
