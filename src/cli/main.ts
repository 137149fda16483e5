/**
 * The package's command line (its entry point, package.json "bin", is bin.ts; the
 * clients the commands use come from src/app, through CliServices):
 *
 *   oauth2-smtp-relay doctor [--settings local.settings.json] [--sender ID] [--send-to ADDRESS] [--from ADDRESS] [--json]
 *   oauth2-smtp-relay setup [--sender ID] --tenant-id T --mailbox M [--mode secret|keyvault|federation|certificate] [--out DIR] ...
 *   oauth2-smtp-relay setup --check [--settings local.settings.json]
 *   oauth2-smtp-relay replay [--settings local.settings.json] [--reason CODE]... [--dry-run]
 *   oauth2-smtp-relay replay --from-poison [--settings local.settings.json] [--dry-run]
 *   oauth2-smtp-relay status <id> [--settings local.settings.json] [--json]                  (status.ts)
 *   oauth2-smtp-relay deadletters list|show|replay|purge ...                                (deadletters.ts)
 *   oauth2-smtp-relay run [--settings local.settings.json] [--host-json host.json] [--grace-seconds 30] [--health-interval 60] [--no-monitor]
 *
 * The doctor reads the same settings as the relay (the environment, and the
 * Values of a local.settings.json given with --settings).
 */
import {
  ConfigError,
  keyVaultOf,
  loadConfig,
  loadQueueConfig,
  oauthOf,
  sendersOf,
  transportOf,
  type Environment,
  type QueueSettings,
  type RelayConfig,
} from '../settings';
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
import {
  checkGoogleSetupValues,
  checkSetupValues,
  firstMissingStep,
  setupNextSteps,
  writeGoogleSetup,
  writeSetupScripts,
  type GraphScope,
  type SetupMode,
  type SetupTransport,
  type SetupValues,
} from './setup';
import { parse, readSettingsFile, UsageError, type ParsedOptions } from './options';
import { status, type StatusLedger } from './status';
import { deadletters, PROGRESS_EVERY, type RecordStoreOf } from './deadletters';
import { PACKAGED_HOST_JSON, runWorker, type RelayWorker } from './run';

export interface CliIo {
  env: Environment;
  out(text: string): void;
  err(text: string): void;
  /** Whether a person can answer a question (stdin is a terminal): purge asks before it deletes. */
  stdinIsTTY?: boolean;
  ask?(question: string): Promise<string>;
}

/** What the commands are built on, from the settings they are given (src/app/cli.ts). */
export interface CliServices {
  doctorTarget(env: Environment): DoctorTarget;
  /** Replay, like every dead-letter command, needs only the storage settings (no secret, no SMTP settings). */
  replayDependencies(queue: QueueSettings): ReplayDependencies;
  recordStore: RecordStoreOf;
  statusLedger: StatusLedger;
  /** Only the storage settings are needed to move messages between two queues. */
  poisonReplayDependencies(queue: QueueSettings): PoisonReplayDependencies;
  /** The plain worker's relay, queues and monitor. */
  openWorker(config: RelayConfig): RelayWorker;
}

const USAGE = `usage:
  oauth2-smtp-relay doctor [--settings local.settings.json] [--sender ID] [--send-to ADDRESS] [--from ADDRESS] [--json]
  oauth2-smtp-relay setup [--sender ID [--settings F]] --tenant-id ID --mailbox ADDRESS [--mode secret|keyvault|federation|certificate] [--out DIR]
                          [--app-name NAME | --client-id ID] [--object-id ID] [--send-as ADDRESS]...
                          [--key-vault NAME] [--secret-name NAME] [--secret-days N] [--certificate-name NAME]
                          [--function-app NAME --resource-group NAME] [--identity-principal-id ID]
                          [--transport smtp|graph|smtp-then-graph [--graph-scope rbac|access-policy|none]
                           [--graph-group ADDRESS] [--graph-large-messages]]
                          writes setup-entra.sh and setup-exchange.ps1 (default folder ./relay-setup)
  oauth2-smtp-relay setup --provider google --project P --mailbox ADDRESS --key-vault V [--service-account ID] [--secret-name N] [--out DIR]
                          writes setup-google.sh (service account, key into Key Vault) and prints the Admin console delegation step
  oauth2-smtp-relay setup --check [--settings local.settings.json] [--send-to ADDRESS] [--from ADDRESS]
                          runs the doctor and names the first setup step still missing
  oauth2-smtp-relay replay [--settings local.settings.json] [--reason CODE]... [--dry-run]
                          put dead-lettered messages back on the queue (all, or those with these reason codes)
  oauth2-smtp-relay replay --from-poison [--settings local.settings.json] [--dry-run]
                          put the messages of the host's <queue>-poison queue back on the queue, as they are
  oauth2-smtp-relay status <id> [--settings local.settings.json] [--json]
                          what happened to a message: by its id, or by its queue message id
  oauth2-smtp-relay deadletters list [--settings F] [--reason CODE]... [--since TIME|24h] [--json]
  oauth2-smtp-relay deadletters show <recordId> [--settings F] [--json]
  oauth2-smtp-relay deadletters replay ...   (the same as replay, --from-poison too)
  oauth2-smtp-relay deadletters purge --reason CODE... --older-than 7d [--settings F] [--yes] [--json]
                          delete records for good (asks first on a terminal; without one, only with --yes)
  oauth2-smtp-relay run [--settings local.settings.json] [--host-json FILE] [--grace-seconds 30] [--health-interval 60] [--no-monitor]
                          the relay as a plain worker: the queue trigger with host.json's queue semantics (the package's
                          host.json unless --host-json) and the secret monitor on MONITOR_SCHEDULE, until SIGTERM or SIGINT;
                          in-flight messages finish within the grace, a second signal exits at once (143 or 130).
                          A JSON line on stdout every --health-interval seconds (counters, in flight, queue depth).
                          exit codes: 0 stopped cleanly, 1 grace ran out or failure, 2 usage, 3 invalid settings (each
                          problem listed), 4 storage account unreachable at start
`;

/** Runs one command; resolves with the process exit code (0 ok, 1 a check failed, 2 usage). */
export async function main(argv: string[], io: CliIo, services: CliServices): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'doctor') return await doctor(rest, io, services);
    if (command === 'setup') return await setup(rest, io, services);
    if (command === 'replay') return await replay(rest, io, services);
    if (command === 'status') return await status(rest, io, services.statusLedger);
    if (command === 'deadletters' && rest[0] === 'replay') return await replay(rest.slice(1), io, services);
    if (command === 'deadletters') return await deadletters(rest, io, services.recordStore);
    if (command === 'run') return await run(rest, io, services);
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

export { readSettingsFile };

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
    const report = await replayDeadLetters(services.replayDependencies(loadQueueConfig(env)), {
      reasons: values.reason as string[] | undefined,
      dryRun: values['dry-run'] === true,
      progress: { every: PROGRESS_EVERY, report: (examined) => io.err(`replay: ${examined} records examined so far\n`) },
    });
    io.out(formatReplayReport(report));
    return report.counts.failed + report.counts.unreadable > 0 ? 1 : 0;
  });
}

async function run(args: string[], io: CliIo, services: CliServices): Promise<number> {
  const values = parse(args, {
    settings: { type: 'string' },
    'host-json': { type: 'string' },
    'grace-seconds': { type: 'string', default: '30' },
    'health-interval': { type: 'string', default: '60' },
    'no-monitor': { type: 'boolean', default: false },
  });
  const seconds = (name: string, min: number) => {
    const text = values[name] as string;
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 86_400)
      throw new UsageError(`--${name}: "${text}" is not a whole number of seconds from ${min} to 86400`);
    return Number(text);
  };
  const env = values.settings ? { ...io.env, ...readSettingsFile(values.settings as string) } : io.env;
  return runWorker({
    env,
    hostJson: (values['host-json'] as string | undefined) ?? PACKAGED_HOST_JSON,
    graceSeconds: seconds('grace-seconds', 0),
    healthIntervalSeconds: seconds('health-interval', 1),
    monitor: values['no-monitor'] !== true,
    out: (text) => io.out(text),
    err: (text) => io.err(text),
    openWorker: (config) => services.openWorker(config),
  });
}

async function setup(args: string[], io: CliIo, services: CliServices): Promise<number> {
  const values = parse(args, {
    'tenant-id': { type: 'string' },
    'client-id': { type: 'string' },
    'object-id': { type: 'string' },
    'app-name': { type: 'string' },
    mailbox: { type: 'string' },
    'send-as': { type: 'string', multiple: true },
    mode: { type: 'string' },
    'key-vault': { type: 'string' },
    'secret-name': { type: 'string' },
    'certificate-name': { type: 'string' },
    'function-app': { type: 'string' },
    'resource-group': { type: 'string' },
    'identity-principal-id': { type: 'string' },
    'secret-days': { type: 'string' },
    transport: { type: 'string' },
    'graph-scope': { type: 'string' },
    'graph-group': { type: 'string' },
    'graph-large-messages': { type: 'boolean' },
    out: { type: 'string', default: 'relay-setup' },
    check: { type: 'boolean', default: false },
    settings: { type: 'string' },
    'send-to': { type: 'string' },
    from: { type: 'string' },
    sender: { type: 'string' },
    provider: { type: 'string' },
    project: { type: 'string' },
    'service-account': { type: 'string' },
  });
  if (values.check) return setupCheck(values, io, services);
  if (values.provider !== undefined && values.provider !== 'microsoft') {
    if (values.provider !== 'google') throw new UsageError('--provider: microsoft (default) or google');
    return setupGoogle(values, io);
  }
  // --sender: the sender's tenant, client, mailbox, From addresses and secret name come from the settings (options given win).
  const env = values.settings ? { ...io.env, ...readSettingsFile(values.settings as string) } : io.env;
  const known = values.sender === undefined ? {} : senderSetup(values.sender as string, env);
  const text = (name: string) => (values[name] as string | undefined) ?? (known[name] as string | undefined);
  const missing = ['tenant-id', 'mailbox'].filter((name) => text(name) === undefined);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(', ')}`);
  const setupValues: SetupValues = {
    tenantId: text('tenant-id')!,
    mailbox: text('mailbox')!,
    appName: text('app-name'),
    clientId: text('client-id'),
    objectId: text('object-id'),
    sendAs: (values['send-as'] as string[] | undefined) ?? (known['send-as'] as string[] | undefined),
    mode: text('mode') as SetupMode | undefined,
    keyVault: text('key-vault'),
    secretName: text('secret-name'),
    certificateName: text('certificate-name'),
    functionApp: text('function-app'),
    resourceGroup: text('resource-group'),
    identityPrincipalId: text('identity-principal-id'),
    secretDays: text('secret-days') === undefined ? undefined : Number(text('secret-days')),
    transport: text('transport') as SetupTransport | undefined,
    graphScope: text('graph-scope') as GraphScope | undefined,
    graphGroup: text('graph-group'),
    graphLargeMessages: values['graph-large-messages'] as boolean | undefined,
  };
  const problems = checkSetupValues(setupValues);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  io.out(setupNextSteps(writeSetupScripts(text('out')!, setupValues), setupValues));
  return 0;
}

/** `setup --provider google`: setup-google.sh (gcloud, Key Vault) and the Admin console step. */
function setupGoogle(values: ParsedOptions, io: CliIo): number {
  const text = (name: string) => values[name] as string | undefined;
  const google = {
    project: text('project'),
    mailbox: text('mailbox'),
    keyVault: text('key-vault'),
    serviceAccount: text('service-account'),
    secretName: text('secret-name'),
    functionApp: text('function-app'),
    resourceGroup: text('resource-group'),
  };
  const problems = checkGoogleSetupValues(google);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  io.out(writeGoogleSetup(text('out')!, google as Parameters<typeof writeGoogleSetup>[1]));
  return 0;
}

/** `setup --check`: the doctor's report, then the first guide step it found missing. */
async function setupCheck(values: ParsedOptions, io: CliIo, services: CliServices): Promise<number> {
  const env = values.settings ? { ...io.env, ...readSettingsFile(values.settings as string) } : io.env;
  const options = { env, sendTo: values['send-to'] as string | undefined, from: values.from as string | undefined };
  const report = await runDoctor(options, (settings) => services.doctorTarget(settings));
  const missing = firstMissingStep(report);
  io.out(`${formatReport(report)}\n${missing ?? 'Every setup step the doctor checks is done.'}\n`);
  return report.ok ? 0 : 1;
}

/** What the settings say about one sender, as setup's options (--tenant-id, --client-id, --mailbox, --send-as, --secret-name or --mode certificate --certificate-name). */
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
  const certificate = sender.auth.kind === 'certificate';
  const mailbox = sender.mail.user.toLowerCase();
  const sendAs = [sender.mail.from, ...sender.mail.allowedFrom].filter((address, i, list) => address.toLowerCase() !== mailbox && list.indexOf(address) === i);
  return {
    'tenant-id': oauth?.provider === 'microsoft' ? oauth.tenantId : undefined,
    'client-id': oauth?.clientId,
    mailbox: sender.mail.user,
    'send-as': sendAs.length > 0 ? sendAs : undefined,
    // A certificate sender's Key Vault name is its certificate's (OAUTH2_CLIENT_CERTIFICATE_NAME), not a secret's.
    mode: certificate ? 'certificate' : undefined,
    'secret-name': certificate ? undefined : keyVaultOf(sender.auth)?.secretName,
    'certificate-name': certificate ? keyVaultOf(sender.auth)?.secretName : undefined,
    // A Graph sender's steps (its permission and scope) instead of, or beside, the SMTP ones.
    transport: transportOf(sender) === 'smtp' ? undefined : transportOf(sender),
  };
}
