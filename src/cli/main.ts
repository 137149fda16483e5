/**
 * The package's command line (its entry point, package.json "bin", is bin.ts; the
 * clients the commands use come from src/app, through CliServices):
 *
 *   oauth2-smtp-relay doctor [--settings local.settings.json] [--sender ID] [--send-to ADDRESS] [--from ADDRESS] [--json]
 *   oauth2-smtp-relay setup --tenant-id T --client-id C --object-id O --mailbox M [--send-as A]...
 *                           [--key-vault V] [--secret-name S] [--function-app F] [--resource-group G] [--secret-days N]
 *   oauth2-smtp-relay replay [--settings local.settings.json] [--reason CODE]... [--dry-run]
 *   oauth2-smtp-relay replay --from-poison [--settings local.settings.json] [--dry-run]
 *
 * The doctor reads the same settings as the relay (the environment, and the
 * Values of a local.settings.json given with --settings).
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ConfigError, keyVaultOf, loadConfig, loadQueueConfig, oauthOf, sendersOf, type Environment, type QueueSettings, type RelayConfig } from '../settings';
import { redactValue } from '../core/redact';
import {
  formatReplayCounts,
  formatReplayItem,
  formatReplayReport,
  replayDeadLetters,
  replayPoison,
  type PoisonReplayDependencies,
  type ReplayDependencies,
} from '../deadletters/replay';
import { formatReport, runDoctor, UnknownSenderError, type DoctorTarget } from './doctor';
import { withIdentityEnvironment } from './identityEnvironment';
import { checkSetupValues, setupScript } from './setup';

export interface CliIo {
  env: Environment;
  out(text: string): void;
  err(text: string): void;
}

/** What the commands are built on, from the settings they are given (src/app/cli.ts). */
export interface CliServices {
  doctorTarget(env: Environment): DoctorTarget;
  replayDependencies(config: RelayConfig): ReplayDependencies;
  /** Only the storage settings are needed to move messages between two queues. */
  poisonReplayDependencies(queue: QueueSettings): PoisonReplayDependencies;
}

const USAGE = `usage:
  oauth2-smtp-relay doctor [--settings local.settings.json] [--sender ID] [--send-to ADDRESS] [--from ADDRESS] [--json]
  oauth2-smtp-relay setup [--sender ID [--settings local.settings.json]] --tenant-id ID --client-id ID --object-id ID --mailbox ADDRESS [--send-as ADDRESS]...
                          [--key-vault NAME] [--secret-name NAME] [--function-app NAME] [--resource-group NAME] [--secret-days N]
  oauth2-smtp-relay replay [--settings local.settings.json] [--reason CODE]... [--dry-run]
                          put dead-lettered messages back on the queue (all, or those with these reason codes)
  oauth2-smtp-relay replay --from-poison [--settings local.settings.json] [--dry-run]
                          put the messages of the host's <queue>-poison queue back on the queue, as they are
`;

/** Runs one command; resolves with the process exit code (0 ok, 1 a check failed, 2 usage). */
export async function main(argv: string[], io: CliIo, services: CliServices): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'doctor') return await doctor(rest, io, services);
    if (command === 'setup') return setup(rest, io);
    if (command === 'replay') return await replay(rest, io, services);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  io.err(USAGE);
  return 2;
}

class UsageError extends Error {}

type ParsedOptions = Record<string, string | boolean | string[] | undefined>;

function parse(args: string[], options: ParseArgsOptionsConfig): ParsedOptions {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as ParsedOptions;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function doctor(args: string[], io: CliIo, services: CliServices): Promise<number> {
  const values = parse(args, {
    settings: { type: 'string' },
    'send-to': { type: 'string' },
    from: { type: 'string' },
    sender: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const env = values.settings ? { ...io.env, ...readSettingsFile(values.settings as string) } : io.env;
  const options = {
    env,
    sendTo: values['send-to'] as string | undefined,
    from: values.from as string | undefined,
    sender: values.sender as string | undefined,
  };
  let report;
  try {
    report = await runDoctor(options, (settings) => services.doctorTarget(settings));
  } catch (error) {
    if (error instanceof UnknownSenderError) throw new UsageError(error.message);
    throw error;
  }
  // Both forms go through the same redaction (formatReport redacts its text).
  io.out(values.json ? JSON.stringify(redactValue(report), null, 2) + '\n' : formatReport(report));
  return report.ok ? 0 : 1;
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

async function replay(args: string[], io: CliIo, services: CliServices): Promise<number> {
  const values = parse(args, {
    settings: { type: 'string' },
    reason: { type: 'string', multiple: true },
    'dry-run': { type: 'boolean', default: false },
    'from-poison': { type: 'boolean', default: false },
  });
  const fileSettings = values.settings ? readSettingsFile(values.settings as string) : {};
  const env = { ...io.env, ...fileSettings };
  // The storage credential reads the managed-identity endpoint from the environment, as the doctor's do.
  return withIdentityEnvironment(fileSettings, async () => {
    if (values['from-poison']) {
      // Poison messages have no record, hence no reason to filter on.
      if (values.reason) throw new UsageError('--reason does not apply to --from-poison: poison messages carry no reason');
      // Only the storage settings are needed to move messages between two queues.
      const poisoned = await replayPoison(services.poisonReplayDependencies(loadQueueConfig(env)), {
        dryRun: values['dry-run'] === true,
        onItem: (item) => io.out(`${formatReplayItem(item)}\n`),
      });
      io.out(`${formatReplayCounts(poisoned, 'replay from poison')}\n`);
      return poisoned.counts.failed > 0 ? 1 : 0;
    }
    const report = await replayDeadLetters(services.replayDependencies(loadConfig(env)), {
      reasons: values.reason as string[] | undefined,
      dryRun: values['dry-run'] === true,
    });
    io.out(formatReplayReport(report));
    return report.counts.failed + report.counts.unreadable > 0 ? 1 : 0;
  });
}

function setup(args: string[], io: CliIo): number {
  const values = parse(args, {
    'tenant-id': { type: 'string' },
    'client-id': { type: 'string' },
    'object-id': { type: 'string' },
    mailbox: { type: 'string' },
    'send-as': { type: 'string', multiple: true },
    'key-vault': { type: 'string' },
    'secret-name': { type: 'string' },
    'function-app': { type: 'string' },
    'resource-group': { type: 'string' },
    'secret-days': { type: 'string' },
    sender: { type: 'string' },
    settings: { type: 'string' },
  });
  // --sender: the sender's tenant, client, mailbox, From addresses and secret name come from the settings (options given win).
  const env = values.settings ? { ...io.env, ...readSettingsFile(values.settings as string) } : io.env;
  const known = values.sender === undefined ? {} : senderSetup(values.sender as string, env);
  const text = (name: string) => (values[name] as string | undefined) ?? (known[name] as string | undefined);
  const missing = ['tenant-id', 'client-id', 'object-id', 'mailbox'].filter((name) => text(name) === undefined);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(', ')}`);
  const setupValues = {
    tenantId: text('tenant-id')!,
    clientId: text('client-id')!,
    objectId: text('object-id')!,
    mailbox: text('mailbox')!,
    sendAs: (values['send-as'] as string[] | undefined) ?? (known['send-as'] as string[] | undefined),
    keyVault: text('key-vault'),
    secretName: text('secret-name'),
    functionApp: text('function-app'),
    resourceGroup: text('resource-group'),
    secretDays: text('secret-days') === undefined ? undefined : Number(text('secret-days')),
  };
  const problems = checkSetupValues(setupValues);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  io.out(setupScript(setupValues));
  return 0;
}

/** What the settings say about one sender, as setup's options (--tenant-id, --client-id, --mailbox, --send-as, --secret-name). */
function senderSetup(id: string, env: Environment): Record<string, string | string[] | undefined> {
  let config: RelayConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--sender needs valid settings:\n${error.message}`);
    throw error;
  }
  const all = sendersOf(config);
  const sender = all.find((one) => one.id === id);
  if (!sender) throw new UsageError(`--sender ${JSON.stringify(id)}: no such sender in the settings (senders: ${all.map((one) => one.id).join(', ')})`);
  const oauth = oauthOf(sender.auth);
  const mailbox = sender.mail.user.toLowerCase();
  const sendAs = [sender.mail.from, ...sender.mail.allowedFrom].filter((address, i, list) => address.toLowerCase() !== mailbox && list.indexOf(address) === i);
  return {
    'tenant-id': oauth?.provider === 'microsoft' ? oauth.tenantId : undefined,
    'client-id': oauth?.clientId,
    mailbox: sender.mail.user,
    'send-as': sendAs.length > 0 ? sendAs : undefined,
    'secret-name': keyVaultOf(sender.auth)?.secretName,
  };
}
