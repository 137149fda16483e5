/**
 * Hostile names through the public paths, on the local stack: a run of `eyJ` (the start of a
 * JWT, over and over) as an unknown field name and as a header name, through the queue handler
 * (Azurite, the host-like runner) and through POST /api/send. The message is refused at once,
 * every problem is listed with its name cut to a small bound (never the whole name, in the
 * record, the log lines or the answer), and the dead-letter record keeps the message byte for
 * byte for replay.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { ECHO_MAX_CHARS } from '../../../src/core/echo';
import { getRelay } from '../../../src/app/runtime';
import type { Logger } from '../../../src/core/log';
import { httpSend } from '../../../functions/httpSend';
import { RelayHarness } from '../../support/relayHarness';

let stack: LocalStack;
let harness: RelayHarness;
const logLines: string[] = [];
const logger: Logger = {
  info: (message, props) => logLines.push(`${message} ${JSON.stringify(props ?? {})}`),
  warn: (message, props) => logLines.push(`${message} ${JSON.stringify(props ?? {})}`),
  error: (message, props) => logLines.push(`${message} ${JSON.stringify(props ?? {})}`),
};

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  harness = await new RelayHarness(stack, { name: 'hostile-names', logger }).start();
  Object.assign(process.env, stack.settings, { RELAY_QUEUE_NAME: 'hostile-names-http' });
});

after(async () => {
  await harness?.close();
  await Promise.resolve()
    .then(() => getRelay().close())
    .catch(() => undefined);
  await stack?.close();
});

/** A message whose unknown field and (invalid: it has a space) header name are `run`. */
function hostile(run: string): string {
  return JSON.stringify({ to: 'someone@example.net', subject: 'hostile names', text: 'x', [run]: 1, headers: { [`${run} x`]: 'v' } });
}

/** A problem's path names the field by at most the bound, and says how long the name was. */
function assertCut(path: string, run: string): void {
  assert.ok(path.length < ECHO_MAX_CHARS + 40, `${path.length} characters: ${path.slice(0, 200)}`);
  const told = /…\((\d+) chars\)/.exec(path);
  assert.ok(told && Number(told[1]) >= run.length, path);
}

test('queue: a 62 KB message of eyJ names is dead-lettered at once, problems cut, the original kept byte for byte', async () => {
  const run = 'eyJ'.repeat(10_300);
  const text = hostile(run);
  assert.ok(text.length > 60_000 && Buffer.byteLength(text) < 64 * 1024);
  await harness.enqueueText('hostile-queue', text);
  await harness.drain(120_000);
  const result = await harness.reconcile((record) => (record.original === text ? 'hostile-queue' : undefined));
  assert.deepEqual(result.lost, [], result.summary);
  const records = result.deadLetters.get('hostile-queue') ?? [];
  assert.equal(records.length, 1, result.summary);
  const [record] = records;
  assert.equal(record!.reason, 'invalid_message');
  assert.equal(record!.attempts, 1);
  assert.equal(record!.original, text, 'the original is not echo: kept whole for replay');
  assert.match(record!.description, /is not a known field/);
  assert.match(record!.description, /is not a header field name/);
  assert.ok(record!.description.length < 1000, `${record!.description.length} characters`);
  assert.ok(!record!.description.includes(run.slice(0, 300)));
  const paths = record!.description.match(/\$(\.headers)?\["[^"]*"\]/g) ?? [];
  // The unknown field, and the header name twice (longer than 76 characters, and not a field name).
  assert.equal(paths.length, 3, record!.description);
  for (const path of paths) assertCut(path, run);

  const lines = logLines.filter((line) => line.includes('relay.dead_lettered'));
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.length < 4000, `the log line has ${lines[0]!.length} characters`);
});

function post(text: string): Promise<HttpResponseInit> {
  return httpSend(new HttpRequest({ method: 'POST', url: 'http://localhost/api/send', body: { string: text } }));
}

test('/api/send: 1 MiB of eyJ names answers 400 far inside the timeout, every problem path cut', async () => {
  const run = 'eyJ'.repeat(2 ** 20 / 6);
  const before = stack.smtpServer.received.length;
  const response = await post(hostile(run));
  assert.equal(response.status, 400);
  const body = response.jsonBody as { status: string; reason: string; problems: Array<{ path: string; problem: string }> };
  assert.equal(body.status, 'invalid');
  assert.equal(body.reason, 'invalid_message');
  const named = body.problems.filter((item) => item.path !== '$');
  assert.deepEqual(named.map((item) => item.problem).sort(), [
    'is not a header field name (printable ASCII without spaces or colon)',
    'is not a known field',
    'must NOT have more than 76 characters',
  ]);
  for (const item of named) assertCut(item.path, run);
  assert.ok(JSON.stringify(body).length < 2000, `the answer has ${JSON.stringify(body).length} characters`);
  assert.equal(stack.smtpServer.received.length, before, 'nothing sent');
});
