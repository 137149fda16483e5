/**
 * What a cold start loads: the Functions host loads every registration (package.json "main")
 * before the first invocation, so whatever they import is paid on every new instance
 * (issue 17). The registrations must load without the relay's SDKs (storage, identity,
 * Key Vault, nodemailer, OpenTelemetry): those load with the first invocation that needs
 * them. Then the same fresh process still handles a queue message and a health request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess, PACKAGE_ROOT } from '../../support/command';

const LOADED_ON_FIRST_USE = [
  '@azure/storage-blob',
  '@azure/storage-queue',
  '@azure/identity',
  '@azure/keyvault-secrets',
  '@azure/msal-node',
  '@azure/monitor-opentelemetry',
  '@opentelemetry/api',
  '@opentelemetry/api-logs',
  'nodemailer',
];

/** A storage account on a port where nothing listens: building clients for it makes no request. */
const CLOSED_STORAGE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1';

function registrationFiles(): string[] {
  const { main } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { main: string };
  return globSync(main, { cwd: PACKAGE_ROOT }).map((file) => join(PACKAGE_ROOT, file));
}

/** Loads every registration in a fresh Node process, runs `after` there, and prints the packages then in require.cache. */
async function loadedPackages(after: string, env: NodeJS.ProcessEnv): Promise<{ before: string[]; after: string[] }> {
  const script = `
    const packages = () => [...new Set(Object.keys(require.cache).map((file) => file.match(/node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/)?.[1]).filter(Boolean).map((name) => name.replace(/\\\\/g, '/')))];
    for (const file of ${JSON.stringify(registrationFiles())}) require(file);
    const before = packages();
    (async () => { ${after} })().then(() => { process.stdout.write('\\n' + JSON.stringify({ before, after: packages() })); process.exit(0); }, (error) => { console.error(error); process.exit(1); });
  `;
  const run = await runProcess(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...env } });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as { before: string[]; after: string[] };
}

test('loading every function module loads none of the SDKs; they load with the first invocation that needs them', async () => {
  const runtime = join(PACKAGE_ROOT, 'dist', 'src', 'app', 'runtime.js');
  // The first queue message of a process with only its storage set (to a port where nothing listens): the relay's
  // settings are read (and refused) only now, and the message is held on that storage, which cannot be reached.
  const { before, after } = await loadedPackages(
    `
    const { handleQueueEntry } = require(${JSON.stringify(runtime)});
    await handleQueueEntry('{}', { dequeueCount: 1, queueMessageId: 'm1' }, { info() {}, warn() {}, error() {} }).catch(() => undefined);
  `,
    { AzureWebJobsStorage: CLOSED_STORAGE },
  );
  assert.ok(before.includes('@azure/functions'), `the registrations use @azure/functions (loaded: ${before.join(', ')})`);
  assert.deepEqual(
    LOADED_ON_FIRST_USE.filter((name) => before.includes(name)),
    [],
    `loaded with the function modules: ${before.join(', ')}`,
  );
  // The invocation did load what it needed: the storage SDK, to hold the message while the settings are invalid.
  assert.ok(after.includes('@azure/storage-blob'), `loaded by the first invocation: ${after.join(', ')}`);
});

test('a relay whose client secret is an app setting is built without loading the Key Vault SDK', async () => {
  const runtime = join(PACKAGE_ROOT, 'dist', 'src', 'app', 'runtime.js');
  const { after } = await loadedPackages(`require(${JSON.stringify(runtime)}).getRelay();`, {
    AzureWebJobsStorage: CLOSED_STORAGE,
    RELAY_QUEUE_NAME: 'outbound-mail',
    SMTP_HOST: 'smtp.example.net',
    SMTP_USER: 'relay@example.com',
    MAIL_FROM: 'relay@example.com',
    OAUTH2_TENANT_ID: '11111111-2222-3333-4444-555555555555',
    OAUTH2_CLIENT_ID: '11111111-2222-3333-4444-555555555556',
    OAUTH2_CLIENT_SECRET: 'a-client-secret-of-the-test-'.padEnd(40, 'x'),
  });
  assert.ok(after.includes('@azure/storage-blob') && after.includes('nodemailer'), `the relay was built: ${after.join(', ')}`);
  assert.equal(after.includes('@azure/keyvault-secrets'), false, `loaded: ${after.join(', ')}`);
});
