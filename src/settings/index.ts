/**
 * The relay's configuration, read once at start from app settings
 * (process.env in Azure and under Core Tools; local.settings.json "Values").
 *
 * `loadConfig` reads every setting once, checks all of them and reports every
 * problem in one ConfigError, so an operator fixes the whole setup in one go
 * instead of one restart per mistake. The settings themselves are declared once,
 * in spec.ts; `describeSettings` (describe.ts) is the list the example settings
 * file and the README are generated from.
 */
import * as fs from 'node:fs';
import { keyVaultOf, readOAuth, readPassword } from './auth';
import { readMail } from './mail';
import { checkRotationNeeds, readMonitor } from './monitor';
import { checkAttachmentContainerApart, readQueue } from './queue';
import { SettingsReader, type ConfigProblem, type Environment } from './reader';
import { readSenders } from './senders';
import { SETTINGS } from './spec';
import { readSmtp, type ReadTextFile } from './smtp';
import { readTransport } from './transport';
import type { QueueSettings, RelayConfig } from './types';

export type * from './types';
export { keyVaultOf, looksLikeSecretId, oauthOf } from './auth';
export { DEFAULT_SENDER_ID, SENDER_ID, sendersOf, transportOf } from './senders';
export { GRAPH_MAILBOX_CONCURRENCY, graphOAuth, graphSettings } from './transport';
export { describeSettings, type SettingDescription } from './describe';
export type { ConfigProblem, Environment } from './reader';
export type { ReadTextFile } from './smtp';
export { DEFAULT_MONITOR_SCHEDULE } from './spec';

/** The configuration cannot work; `problems` names every bad setting. Secret values never appear in it. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((item) => `- ${item.setting}: ${item.problem}`);
    super([`Invalid relay configuration (${count}):`, ...lines].join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Reads and checks every setting. Throws one ConfigError listing all problems.
 * Secret values are registered with the redactor so they can never reach a log.
 */
export function loadConfig(env: Environment = process.env, readFile: ReadTextFile = fs.readFileSync): RelayConfig {
  const reader = new SettingsReader(env);
  const smtp = readSmtp(reader, readFile);
  const oauthEnabled = reader.boolean('OAUTH2_ENABLED');
  const mail = readMail(reader, smtp);
  const auth = oauthEnabled ? readOAuth(reader) : readPassword(reader, mail?.user);
  const queue = readQueue(reader);
  const monitor = readMonitor(reader);
  if (queue) checkAttachmentContainerApart(reader, queue.attachmentContainerName, { MONITOR_STATE_CONTAINER: monitor.stateContainer });
  checkRotationNeeds(reader, monitor.rotation, auth);
  const transport = readTransport(reader, monitor.rotation.graphUrl, auth);
  const defaultVault = auth ? keyVaultOf(auth) : undefined;
  const senders = readSenders(reader, {
    smtp,
    auth,
    mail,
    transport,
    keyVault: defaultVault ?? { cacheMs: SETTINGS.OAUTH2_CLIENT_SECRET_CACHE_SECONDS.default * 1000 },
  });

  // A section is undefined only after a problem was reported for it.
  if (reader.problems.length > 0 || !mail || !auth || !queue) throw new ConfigError(reader.problems);
  // Absent without RELAY_SENDERS, so a single-sender configuration is exactly what it was.
  return senders.length > 0 ? { smtp, auth, mail, queue, monitor, transport, senders } : { smtp, auth, mail, queue, monitor, transport };
}

/**
 * Only the storage settings (AzureWebJobsStorage, the queue and container names, the
 * retry policy): enough to hold or dead-letter messages while other settings are wrong.
 * Throws a ConfigError naming the storage settings' problems only.
 */
export function loadQueueConfig(env: Environment = process.env): QueueSettings {
  const reader = new SettingsReader(env);
  const queue = readQueue(reader);
  if (reader.problems.length > 0 || !queue) throw new ConfigError(reader.problems);
  return queue;
}
