/**
 * The README's "When a message fails" walkthrough, as a user runs it: `cli.js up`
 * runs the stack and the relay, `cli.js send` queues a good message with an id and
 * one with a From the relay may not send as, and the package command (the bin, in
 * its own process) answers `status` for both and `deadletters list` / `show` for
 * the refused one, from the stack's settings file. Ports and state folder are
 * private to the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUILD_ROOT } from '../../support/paths';
import { runCommand, type Finished } from '../../support/command';

const cli = join(BUILD_ROOT, 'local', 'cli.js');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

/** Runs `status` until the relay has handled the message (exit 0), or gives up after `timeoutMs`. */
async function statusOnceKnown(args: string[], timeoutMs: number): Promise<Finished> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await runCommand(['status', ...args]);
    if (result.status !== 1 || Date.now() > deadline) return result;
    await new Promise((tick) => setTimeout(tick, 250));
  }
}

test('a bad message on the local stack: status by id and by queue message id, deadletters list and show', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-local-status-'));
  const env = {
    ...process.env,
    RELAY_LOCAL_DIR: dir,
    LOCAL_QUEUE_PORT: String(await freePort()),
    LOCAL_BLOB_PORT: String(await freePort()),
    LOCAL_SMTP_PORT: String(await freePort()),
    LOCAL_TOKEN_PORT: String(await freePort()),
  };
  const up = spawn(process.execPath, [cli, 'up'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  up.stdout.on('data', (chunk) => (output += chunk));
  up.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => up.on('exit', (code) => done(code)));
  const settings = join(dir, 'settings.json');
  try {
    const deadline = Date.now() + 60_000;
    while (!output.includes('Relay is watching') && Date.now() < deadline) await new Promise((tick) => setTimeout(tick, 100));
    assert.match(output, /Relay is watching/);
    const send = (args: string[]) => promisify(execFile)(process.execPath, [cli, 'send', ...args], { env });
    await send(['--id', 'order-1001', '--to', 'someone@example.net', '--subject', 'Hello', '--text', 'It works']);
    const badFile = join(dir, 'bad-from.json');
    writeFileSync(
      badFile,
      JSON.stringify({ id: 'order-1002', from: 'ceo@elsewhere.example', to: 'someone@example.net', subject: 'Hello', text: 'not allowed' }),
    );
    const queued = (await send(['--file', badFile])).stdout;
    const queueMessageId = /^queued (\S+) on/.exec(queued)?.[1];
    assert.ok(queueMessageId, queued);

    const good = await statusOnceKnown(['order-1001', '--settings', settings], 30_000);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /^state +sent$/m);
    assert.match(good.stdout, /^server reply +250 /m);

    const bad = await statusOnceKnown([queueMessageId, '--settings', settings], 30_000);
    assert.equal(bad.status, 0, bad.stderr);
    assert.match(bad.stdout, /\(by queue message id\)/);
    assert.match(bad.stdout, /^state +dead-lettered$/m);
    assert.match(bad.stdout, /^last reason +sender_not_allowed$/m);
    const recordId = /^dead-letter record +(\S+)$/m.exec(bad.stdout)?.[1];
    assert.ok(recordId, bad.stdout);

    // The id of a message the relay refused unread is not trusted: it is not found by it.
    const byId = await runCommand(['status', 'order-1002', '--settings', settings]);
    assert.equal(byId.status, 1);
    assert.match(byId.stderr, /queue message id/);

    const listed = await runCommand(['deadletters', 'list', '--settings', settings]);
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok(listed.stdout.startsWith(`${recordId}  `), listed.stdout);
    assert.match(listed.stdout, /^list: 1 examined, 1 listed$/m);
    const shown = await runCommand(['deadletters', 'show', recordId, '--settings', settings]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /^reason +sender_not_allowed$/m);
    assert.match(shown.stdout, /^original:\n\{"id":"order-1002","from":"ceo@elsewhere\.example"/m);
    const secret = (JSON.parse(readFileSync(settings, 'utf8')) as Record<string, string>).OAUTH2_CLIENT_SECRET!;
    for (const text of [good.stdout, bad.stdout, listed.stdout, shown.stdout]) assert.ok(!text.includes(secret), 'no secret printed');
  } finally {
    up.kill('SIGTERM');
    assert.equal(await exited, 0, `clean shutdown; output:\n${output}`);
    rmSync(dir, { recursive: true, force: true });
  }
});
