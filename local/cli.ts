#!/usr/bin/env node
/**
 * The local run, for a machine with no Azure account and no internet.
 *
 *   up [--stack-only]   start Azurite, the token endpoint and the SMTP server, and
 *                       (unless --stack-only, for `func start`) the relay itself
 *   send [options]      put a message on the local queue
 *
 * State lives in .local/ (certificates, Azurite data, received mail as .eml).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { QueueClient } from '@azure/storage-queue';
import { loadConfig } from '../src/settings';
import { createRelay } from '../src/app/relay';
import type { Logger } from '../src/core/log';
import { startLocalStack, type LocalStackSettings } from './stack';
import { describeOverrides, mergeLocalSettings } from './localSettings';
import { QueueRunner, readHostQueueSettings } from '../src/worker/queueRunner';

const projectRoot = resolve(__dirname, '..', '..');
const localDir = resolve(process.env.RELAY_LOCAL_DIR ?? join(projectRoot, '.local'));
const settingsFile = join(localDir, 'settings.json');

const consoleLogger: Logger = {
  info: (message, props) => console.log(`[info] ${message}${props ? ' ' + JSON.stringify(props) : ''}`),
  warn: (message, props) => console.warn(`[warn] ${message}${props ? ' ' + JSON.stringify(props) : ''}`),
  error: (message, props) => console.error(`[error] ${message}${props ? ' ' + JSON.stringify(props) : ''}`),
};

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'stack-only': { type: 'boolean', default: false } } });
  mkdirSync(localDir, { recursive: true });
  const previous = readJson(settingsFile) as Record<string, string> | undefined;
  const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const stack = await startLocalStack({
    dir: localDir,
    // The standard Azurite ports, so `UseDevelopmentStorage=true` tools (Storage Explorer, func) see the same queues.
    ports: {
      blob: port('LOCAL_BLOB_PORT', 10000),
      queue: port('LOCAL_QUEUE_PORT', 10001),
      smtp: port('LOCAL_SMTP_PORT', 2587),
      token: port('LOCAL_TOKEN_PORT', 8443),
    },
    clientSecret: previous?.OAUTH2_CLIENT_SECRET,
  });
  // The user's edits stay; the stack's endpoints of this start replace those of the last one.
  const merged = mergeLocalSettings(stack.settings, previous, process.env);
  writeFileSync(settingsFile, JSON.stringify(merged.file, null, 2), { mode: 0o600 });
  const functionsSettings = join(projectRoot, 'local.settings.json');
  if (values['stack-only']) {
    // For `func start`: the same settings, in the file Core Tools reads, merged the same way into the user's own.
    const existing = (readJson(functionsSettings) ?? { IsEncrypted: false }) as { Values?: Record<string, string> };
    const functionValues = { FUNCTIONS_WORKER_RUNTIME: 'node', ...mergeLocalSettings(stack.settings, existing.Values, {}).file };
    writeFileSync(functionsSettings, JSON.stringify({ ...existing, Values: functionValues }, null, 2), { mode: 0o600 });
  }

  console.log('Local stack is up:');
  console.log(`  Azurite queues  ${stack.azurite.connectionString.match(/QueueEndpoint=([^;]+)/)?.[1]}`);
  console.log(`  token endpoint  ${stack.tokenServer.tokenUrl()}`);
  console.log(`  SMTP (STARTTLS) 127.0.0.1:${stack.smtpServer.port}, XOAUTH2 checked; mail stored in ${stack.maildir}`);
  console.log(`  settings        ${settingsFile}`);
  for (const line of describeOverrides(merged, settingsFile)) console.log(line);

  let runner: QueueRunner | undefined;
  let relay: ReturnType<typeof createRelay> | undefined;
  if (!values['stack-only']) {
    relay = createRelay(loadConfig(merged.effective), consoleLogger);
    const connection = stack.settings.AzureWebJobsStorage;
    const queueName = relay.config.queue.queueName;
    runner = new QueueRunner({
      queue: new QueueClient(connection, queueName),
      poisonQueue: new QueueClient(connection, `${queueName}-poison`),
      settings: readHostQueueSettings(join(projectRoot, 'host.json')),
      handler: (payload, delivery) => relay!.handleQueueMessage(payload, delivery, consoleLogger),
      logger: consoleLogger,
    });
    await runner.start();
    console.log(`Relay is watching queue "${queueName}" (local runner following host.json; Ctrl+C to stop).`);
    console.log(`Send a message:  ./dev send --to someone@example.net --subject "Hello" --text "It works"`);
  } else {
    console.log('Stack only: run `func start` in another terminal (it reads local.settings.json).');
  }

  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', resolveStop);
    process.once('SIGTERM', resolveStop);
  });
  await runner?.stop();
  await relay?.close();
  await stack.close();
}

async function send(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string', multiple: true },
      subject: { type: 'string', default: 'Test message from oauth2-smtp-relay' },
      text: { type: 'string' },
      html: { type: 'string' },
      id: { type: 'string' },
      file: { type: 'string' },
      base64: { type: 'boolean', default: false },
    },
  });
  if (!existsSync(settingsFile)) throw new Error(`no local stack settings at ${settingsFile}: start it first with ./dev local`);
  // up() writes this file from the stack's settings.
  const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as LocalStackSettings;
  const message = values.file
    ? readFileSync(values.file, 'utf8')
    : JSON.stringify({
        to: values.to ?? ['someone@example.net'],
        subject: values.subject,
        text: values.text ?? (values.html ? undefined : 'Relayed by oauth2-smtp-relay through the local stack.'),
        html: values.html,
        id: values.id,
      });
  // The queue `up` watches: the file's, or this run's environment override as up() applies it.
  const queueName = process.env.RELAY_QUEUE_NAME ?? settings.RELAY_QUEUE_NAME;
  const queue = new QueueClient(settings.AzureWebJobsStorage, queueName, { retryOptions: { maxTries: 2 } });
  await queue.createIfNotExists();
  // Plain JSON by default; --base64 sends it the way a Functions queue output binding does.
  const sent = await queue.sendMessage(values.base64 ? Buffer.from(message).toString('base64') : message);
  console.log(`queued ${sent.messageId} on "${queueName}"; delivered mail appears in ${join(localDir, 'mail')}`);
}

/** A JSON file, or undefined when there is none; a file that is not JSON is an error naming it. */
function readJson(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${error instanceof Error ? error.message : String(error)}): correct or delete it`, { cause: error });
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'up') return up(rest);
  if (command === 'send') return send(rest);
  console.error('usage: cli.js up [--stack-only] | send [--to ADDRESS]... [--subject S] [--text T] [--html H] [--id KEY] [--file message.json] [--base64]');
  process.exitCode = 2;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
