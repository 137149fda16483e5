/**
 * The Functions host loads the files that package.json "main" matches and
 * registers whatever they declare. These tests prove the glob finds every
 * built registration (and nothing else), and that each registration binds
 * to the settings the relay reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as functions from '@azure/functions';
import { describeSettings } from '../../../src/settings';
import { PACKAGE_ROOT } from '../../support/paths';

const root = PACKAGE_ROOT;
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string; engines: { node: string } };

test('package.json main matches exactly the compiled registration files of functions/', () => {
  const matched = globSync(packageJson.main, { cwd: root }).sort();
  const sources = readdirSync(join(root, 'functions'))
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `dist/functions/${file.replace(/\.ts$/, '.js')}`)
    .sort();
  assert.ok(sources.length > 0, 'functions/ has registration files');
  assert.deepEqual(matched, sources);
});

test('package.json requires Node 22, the Functions runtime version', () => {
  assert.match(packageJson.engines.node, /22/);
});

interface Registration {
  kind: string;
  name: string;
  options: Record<string, unknown>;
}

/** Loads every registration file with `app.*` recording what would be registered (outside the host they register nothing). */
function loadRegistrations(): Registration[] {
  const recorded: Registration[] = [];
  const app = functions.app as unknown as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  for (const kind of ['storageQueue', 'http', 'timer']) {
    originals.set(kind, app[kind]);
    app[kind] = (name: string, options: Record<string, unknown>) => recorded.push({ kind, name, options });
  }
  try {
    for (const file of globSync(packageJson.main, { cwd: root })) {
      const path = join(root, file);
      delete require.cache[path];
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads each compiled module package.json "main" names, as the host does, afresh
      require(path);
    }
  } finally {
    for (const [kind, original] of originals) app[kind] = original;
  }
  return recorded;
}

test('the queue trigger binds to RELAY_QUEUE_NAME on the AzureWebJobsStorage connection', () => {
  const registrations = loadRegistrations();
  const queue = registrations.filter((registration) => registration.kind === 'storageQueue');
  assert.equal(queue.length, 1, `one queue trigger, got ${JSON.stringify(registrations.map((r) => r.name))}`);
  assert.equal(queue[0]!.options.queueName, '%RELAY_QUEUE_NAME%');
  assert.equal(queue[0]!.options.connection, 'AzureWebJobsStorage');
  assert.equal(typeof queue[0]!.options.handler, 'function');
});

test('host.json: version 2.0, extension bundle [4.*, 5.0.0), queue settings chosen on purpose', () => {
  const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8'));
  assert.equal(host.version, '2.0');
  assert.equal(host.extensionBundle.id, 'Microsoft.Azure.Functions.ExtensionBundle');
  assert.equal(host.extensionBundle.version, '[4.*, 5.0.0)');
  const queues = host.extensions.queues;
  for (const key of ['batchSize', 'newBatchThreshold', 'maxDequeueCount', 'visibilityTimeout', 'maxPollingInterval', 'messageEncoding']) {
    assert.ok(key in queues, `extensions.queues.${key} is set explicitly`);
  }
  // The relay accepts base64 and plain JSON itself; the host must not reject plain text as bad base64.
  assert.equal(queues.messageEncoding, 'none');
});

test('the secret monitor timer: every 15 minutes unless MONITOR_SCHEDULE says otherwise, not on startup', () => {
  const previous = process.env.MONITOR_SCHEDULE;
  try {
    delete process.env.MONITOR_SCHEDULE;
    const timers = loadRegistrations().filter((registration) => registration.kind === 'timer');
    assert.equal(timers.length, 1, `one timer, got ${JSON.stringify(timers.map((r) => r.name))}`);
    assert.equal(timers[0]!.name, 'secretMonitor');
    assert.equal(timers[0]!.options.schedule, '0 */15 * * * *');
    assert.equal(timers[0]!.options.runOnStartup, false);
    assert.equal(typeof timers[0]!.options.handler, 'function');

    process.env.MONITOR_SCHEDULE = '0 0 * * * *';
    const hourly = loadRegistrations().find((registration) => registration.kind === 'timer');
    assert.equal(hourly?.options.schedule, '0 0 * * * *');
  } finally {
    if (previous === undefined) delete process.env.MONITOR_SCHEDULE;
    else process.env.MONITOR_SCHEDULE = previous;
  }
});

test('the HTTP functions: test send (POST), health (GET) and message status (GET), all behind a function key, never anonymous', () => {
  const http = loadRegistrations().filter((registration) => registration.kind === 'http');
  const byName = Object.fromEntries(http.map((registration) => [registration.name, registration.options]));
  assert.deepEqual(Object.keys(byName).sort(), ['health', 'httpSend', 'messageStatus']);
  for (const options of Object.values(byName)) {
    assert.equal(options.authLevel, 'function');
    assert.equal(typeof options.handler, 'function');
  }
  assert.deepEqual(byName.httpSend!.methods, ['POST']);
  assert.equal(byName.httpSend!.route, 'send');
  assert.deepEqual(byName.health!.methods, ['GET']);
  assert.equal(byName.health!.route, 'health');
  assert.deepEqual(byName.messageStatus!.methods, ['GET']);
  assert.equal(byName.messageStatus!.route, 'messages/{id}');
});

test("the relay's default RELAY_MAX_DEQUEUE_COUNT equals host.json's maxDequeueCount (the last attempt dead-letters with a reason)", () => {
  const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8'));
  const maxDequeueCount = describeSettings().find((setting) => setting.name === 'RELAY_MAX_DEQUEUE_COUNT')?.default;
  assert.equal(Number(maxDequeueCount), host.extensions.queues.maxDequeueCount);
});

test('every registration starts telemetry before anything else loads (the instrumentation must see the modules load)', () => {
  const registrations = readdirSync(join(root, 'functions')).filter((file) => file.endsWith('.ts'));
  for (const file of registrations) {
    const firstImport = /^import\s[^;]*;/m.exec(readFileSync(join(root, 'functions', file), 'utf8'))?.[0];
    assert.equal(firstImport, "import './lib/telemetry';", `functions/${file}`);
  }
});
