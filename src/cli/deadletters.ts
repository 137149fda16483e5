/**
 *   oauth2-smtp-relay deadletters list [--settings F] [--reason CODE]... [--since TIME|DURATION] [--json]
 *   oauth2-smtp-relay deadletters show <recordId> [--settings F] [--json]
 *   oauth2-smtp-relay deadletters purge --reason CODE... --older-than DURATION [--settings F] [--yes] [--json]
 *   (deadletters replay is `replay`, in main.ts)
 *
 * Only the storage settings are read (loadQueueConfig): no client secret, no SMTP
 * settings. Long runs report progress on stderr and end with counts; stdout holds
 * the result alone (with --json, one JSON document).
 */
import { loadQueueConfig, type Environment, type QueueSettings } from '../settings';
import {
  listDeadLetters,
  parseDuration,
  parseSince,
  purgeDeadLetters,
  showDeadLetter,
  type PurgeItem,
  type PurgeReport,
  type RecordStore,
  type RecordSummary,
} from '../deadletters/records';
import { withIdentityEnvironment } from './identityEnvironment';
import { commandSettings, parse, parseWithPositionals, UsageError } from './options';

export interface DeadLettersIo {
  env: Environment;
  out(text: string): void;
  err(text: string): void;
  /** Whether a person can answer a question (stdin is a terminal). */
  stdinIsTTY?: boolean;
  /** Asks a question on the terminal; resolves with the answer line. */
  ask?(question: string): Promise<string>;
}

export type RecordStoreOf = (queue: QueueSettings) => RecordStore;

/** Progress every so many records, on stderr. */
export const PROGRESS_EVERY = 100;

export async function deadletters(args: string[], io: DeadLettersIo, storeOf: RecordStoreOf): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === 'list') return list(rest, io, storeOf);
  if (subcommand === 'show') return show(rest, io, storeOf);
  if (subcommand === 'purge') return purge(rest, io, storeOf);
  throw new UsageError(
    subcommand === undefined ? 'deadletters needs a subcommand: list, show, replay or purge' : `unknown deadletters subcommand "${subcommand}"`,
  );
}

function progress(io: DeadLettersIo, what: string) {
  return { every: PROGRESS_EVERY, report: (examined: number) => io.err(`${what}: ${examined} records examined so far\n`) };
}

function withStore(values: Record<string, unknown>, io: DeadLettersIo, storeOf: RecordStoreOf, use: (store: RecordStore) => Promise<number>): Promise<number> {
  const { env, fileSettings } = commandSettings(values.settings as string | undefined, io.env);
  // The storage credential reads the managed-identity endpoint from the environment, as the doctor's do.
  return withIdentityEnvironment(fileSettings, () => use(storeOf(loadQueueConfig(env))));
}

async function list(args: string[], io: DeadLettersIo, storeOf: RecordStoreOf): Promise<number> {
  const values = parse(args, {
    settings: { type: 'string' },
    reason: { type: 'string', multiple: true },
    since: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const since = values.since === undefined ? undefined : parseSince(values.since as string);
  if (values.since !== undefined && since === undefined)
    throw new UsageError(`--since: "${String(values.since)}" is neither an ISO 8601 time nor a duration such as 24h or 7d`);
  return withStore(values, io, storeOf, async (store) => {
    const found = await listDeadLetters(store, { reasons: values.reason as string[] | undefined, since }, progress(io, 'list'));
    if (values.json) io.out(JSON.stringify(found, null, 2) + '\n');
    else
      io.out(
        [
          ...found.records.map(formatSummary),
          `list: ${found.examined} examined, ${found.records.length} listed${found.unreadable ? `, ${found.unreadable} unreadable` : ''}`,
        ].join('\n') + '\n',
      );
    return 0;
  });
}

async function show(args: string[], io: DeadLettersIo, storeOf: RecordStoreOf): Promise<number> {
  const { values, positionals } = parseWithPositionals(args, { settings: { type: 'string' }, json: { type: 'boolean', default: false } }, 1);
  const recordId = positionals[0]!;
  return withStore(values, io, storeOf, async (store) => {
    let record;
    try {
      record = await showDeadLetter(store, recordId);
    } catch (error) {
      // The record is there but cannot be read whole (its blob is gone, or is not the relay's).
      io.err(`deadletters show: record "${recordId}" cannot be read: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
    if (!record) {
      io.err(
        `deadletters show: no record "${recordId}" on the dead-letter queue (deadletters list shows the record ids; a replayed or purged record is gone)\n`,
      );
      return 1;
    }
    if (values.json) {
      io.out(JSON.stringify(record, null, 2) + '\n');
      return 0;
    }
    const { original, ...rest } = record;
    const lines = Object.entries(rest)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key.padEnd(16)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    io.out([...lines, 'original:', original ?? '(not in the record)'].join('\n') + '\n');
    return 0;
  });
}

async function purge(args: string[], io: DeadLettersIo, storeOf: RecordStoreOf): Promise<number> {
  const values = parse(args, {
    settings: { type: 'string' },
    reason: { type: 'string', multiple: true },
    'older-than': { type: 'string' },
    yes: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const reasons = (values.reason as string[] | undefined) ?? [];
  if (reasons.length === 0) throw new UsageError('purge needs --reason CODE (one or more): it never deletes every reason at once');
  if (values['older-than'] === undefined) throw new UsageError('purge needs --older-than DURATION, e.g. 7d or 12h');
  const olderThanMs = parseDuration(values['older-than'] as string);
  if (olderThanMs === undefined) throw new UsageError(`--older-than: "${String(values['older-than'])}" is not a duration such as 30m, 12h or 7d`);
  return withStore(values, io, storeOf, async (store) => {
    let confirmed: Set<string> | undefined;
    if (!values.yes) {
      const plan = await purgeDeadLetters(store, { reasons, olderThanMs, dryRun: true, progress: progress(io, 'purge') });
      if (plan.counts['would-purge'] === 0) return finish(plan, io, values.json === true);
      io.err(plan.items.map(formatPurgeItem).join('\n') + '\n');
      if (!io.stdinIsTTY || !io.ask) {
        io.err(
          `purge: ${plan.counts['would-purge']} records would be deleted; stdin is not a terminal, so nothing was deleted. Run again with --yes to delete them.\n`,
        );
        return 2;
      }
      const answer = await io.ask(`Delete these ${plan.counts['would-purge']} dead-letter records for good? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        io.err('purge: nothing deleted\n');
        return 1;
      }
      confirmed = new Set(plan.items.map((item) => item.recordId));
    }
    const report = await purgeDeadLetters(store, { reasons, olderThanMs, onlyRecordIds: confirmed, progress: progress(io, 'purge') });
    return finish(report, io, values.json === true);
  });
}

function finish(report: PurgeReport, io: DeadLettersIo, json: boolean): number {
  if (json) io.out(JSON.stringify(report, null, 2) + '\n');
  else io.out([...report.items.map(formatPurgeItem), formatPurgeCounts(report)].join('\n') + '\n');
  return report.counts.failed > 0 ? 1 : 0;
}

export function formatSummary(record: RecordSummary): string {
  const key = record.messageKey ? `id ${record.messageKey}` : record.queueMessageId ? `queue ${record.queueMessageId}` : '-';
  const description = record.description.length > 160 ? `${record.description.slice(0, 157)}...` : record.description;
  return `${record.recordId}  ${record.deadLetteredAt}  ${record.reason.padEnd(20)} ${key}  ${description}`;
}

function formatPurgeItem(item: PurgeItem): string {
  return `${item.decision.padEnd(12)} ${formatSummary(item)}${item.detail ? ` (${item.detail})` : ''}`;
}

function formatPurgeCounts(report: PurgeReport): string {
  const counts = Object.entries(report.counts)
    .filter(([, count]) => count > 0)
    .map(([decision, count]) => `${count} ${decision}`)
    .join(', ');
  return `purge: ${report.examined} examined${counts ? `, ${counts}` : ''}`;
}
