/**
 * `oauth2-smtp-relay status <id>` on Azurite, with a settings file that holds
 * the storage settings only (no OAUTH2_*, no SMTP_*, no MAIL_*): the same
 * answer as GET /api/messages/{id}, as text or --json; an unknown id exits 1
 * with a clear line; a malformed id is a usage error (2).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { main } from '../../../src/app/cli';
import { remedyText } from '../../../src/core/diagnoses';
import { runCommand } from '../../support/command';
import { BODY, REFUSED_RECIPIENT, runStatusScenario, SCENARIO_IDS, SUBJECT, type StatusScenario } from '../../support/statusScenario';

let stack: LocalStack;
let scenario: StatusScenario;
let settingsFile: string;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  scenario = await runStatusScenario(stack, 'status-cli');
  settingsFile = join(stack.dir, 'storage-only.settings.json');
  const storageOnly = { AzureWebJobsStorage: stack.settings.AzureWebJobsStorage, RELAY_LEDGER_CONTAINER: scenario.settings.RELAY_LEDGER_CONTAINER! };
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: storageOnly }));
});

after(async () => {
  await scenario?.harness.close();
  await stack?.close();
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { env: {}, out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

function assertMetadataOnly(text: string): void {
  for (const content of [SUBJECT, BODY, REFUSED_RECIPIENT, 'reader@example.net', stack.clientSecret])
    assert.ok(!text.includes(content), `no "${content}" in: ${text}`);
}

test('status of a delivered message, as text: state, Message-ID, the server reply, the times', async () => {
  const result = await cli(['status', SCENARIO_IDS.delivered, '--settings', settingsFile]);
  assert.equal(result.code, 0, result.err);
  assert.match(result.out, new RegExp(`^message +${SCENARIO_IDS.delivered} \\(by its id\\)$`, 'm'));
  assert.match(result.out, /^state +sent$/m);
  assert.match(result.out, /^Message-ID +<.+>$/m);
  assert.match(result.out, /^server reply +250 /m);
  assert.match(result.out, /^first enqueued +\d{4}-/m);
  assert.match(result.out, /^last change +\d{4}-/m);
  assertMetadataOnly(result.out);
});

test('status --json of a dead-lettered message: the reason, the record id, the command to see the record in text', async () => {
  const json = await cli(['status', SCENARIO_IDS.deadLettered, '--settings', settingsFile, '--json']);
  assert.equal(json.code, 0, json.err);
  const status = JSON.parse(json.out);
  assert.equal(status.state, 'dead-lettered');
  assert.equal(status.lastReason, 'recipients_rejected');
  assert.match(status.deadLetterRecordId, /^[0-9a-f-]{36}$/);
  const text = await cli(['status', SCENARIO_IDS.deadLettered, '--settings', settingsFile]);
  assert.ok(text.out.includes(`oauth2-smtp-relay deadletters show ${status.deadLetterRecordId}`), text.out);
  assertMetadataOnly(json.out + text.out);
});

test('status of a retrying message and of one refused unread (by its queue message id), with the remedies', async () => {
  const retrying = JSON.parse((await cli(['status', SCENARIO_IDS.retrying, '--settings', settingsFile, '--json'])).out);
  assert.equal(retrying.state, 'retry');
  assert.equal(retrying.remedy, remedyText('smtp_throttled'));
  const refused = await cli(['status', scenario.refusedQueueMessageId, '--settings', settingsFile]);
  assert.equal(refused.code, 0, refused.err);
  assert.match(refused.out, /\(by queue message id\)/);
  assert.match(refused.out, /^last reason +sender_not_allowed$/m);
  assert.ok(refused.out.includes(remedyText('sender_not_allowed')));
});

test('an unknown id exits 1 with one clear line on stderr (and the not_found document with --json)', async () => {
  const result = await cli(['status', 'no-such-message', '--settings', settingsFile]);
  assert.equal(result.code, 1);
  assert.equal(result.out, '');
  assert.match(result.err, /^status: no message "no-such-message" in the delivery ledger: .*queue message id/);
  const json = await cli(['status', 'no-such-message', '--settings', settingsFile, '--json']);
  assert.equal(json.code, 1);
  assert.deepEqual(Object.keys(JSON.parse(json.out)), ['error', 'id', 'hint']);
});

test('usage: a malformed id, no id, two ids are usage errors (exit 2)', async () => {
  for (const args of [['status', 'caf\u00e9'], ['status', 'x'.repeat(201)], ['status'], ['status', 'a', 'b']]) {
    const result = await cli([...args, '--settings', settingsFile]);
    assert.equal(result.code, 2, `${JSON.stringify(args)}: ${result.err}`);
    assert.match(result.err, /usage:/);
  }
});

test('the package command (the bin, in its own process) answers the same with the storage settings alone', async () => {
  const result = await runCommand(['status', SCENARIO_IDS.delivered, '--settings', settingsFile, '--json']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).state, 'sent');
  const unknown = await runCommand(['status', 'no-such-message', '--settings', settingsFile]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no message "no-such-message"/);
});
