/**
 * The README's first command, as a user runs it: `cli.js up` starts the
 * embedded stack and the relay, `cli.js send` drops a message, and the
 * message arrives as an .eml file. Ports and state folder are private to the
 * test so it cannot collide with a local run on the same machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import { BUILD_ROOT } from '../../support/paths';

const cli = join(BUILD_ROOT, 'local', 'cli.js');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((tick) => setTimeout(tick, 100));
  }
}

test('up starts the stack and the relay; send drops a message that arrives as .eml', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-local-run-'));
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
  try {
    await waitFor('the relay to start', () => (output.includes('Relay is watching') ? true : undefined), 60_000);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [cli, 'send', '--to', 'someone@example.net', '--subject', 'Hello from the README', '--text', 'It works'],
      { env },
    );
    assert.match(stdout, /queued/);
    const maildir = join(dir, 'mail');
    const file = await waitFor('the .eml file', () => (existsSync(maildir) ? readdirSync(maildir).find((name) => name.endsWith('.eml')) : undefined), 30_000);
    const parsed = await simpleParser(readFileSync(join(maildir, file)));
    assert.equal(parsed.subject, 'Hello from the README');
    assert.equal(parsed.text?.trim(), 'It works');
    assert.ok(!output.includes(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')).OAUTH2_CLIENT_SECRET), 'secret printed');
  } finally {
    up.kill('SIGTERM');
    assert.equal(await exited, 0, `clean shutdown; output:\n${output}`);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a restart keeps the user's edits to .local/settings.json and honours relay settings from the environment, and says so", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-local-rerun-'));
  // An edited file from an earlier run: stale ports, and a value the user added to try a fix.
  writeFileSync(
    join(dir, 'settings.json'),
    JSON.stringify({ SMTP_PORT: '1', OAUTH2_TOKEN_URL: 'https://127.0.0.1:1/x', MAIL_ALLOWED_FROM: 'billing@example.com' }, null, 2),
  );
  const env = {
    ...process.env,
    RELAY_LOCAL_DIR: dir,
    LOCAL_QUEUE_PORT: String(await freePort()),
    LOCAL_BLOB_PORT: String(await freePort()),
    LOCAL_SMTP_PORT: String(await freePort()),
    LOCAL_TOKEN_PORT: String(await freePort()),
    RELAY_QUEUE_NAME: 'from-the-environment',
    SMTP_HOST: '192.0.2.1',
  };
  const up = spawn(process.execPath, [cli, 'up'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  up.stdout.on('data', (chunk) => (output += chunk));
  up.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => up.on('exit', (code) => done(code)));
  try {
    await waitFor('the relay to start', () => (output.includes('Relay is watching') ? true : undefined), 60_000);
    assert.match(output, /Relay is watching queue "from-the-environment"/);
    assert.match(output, /overrides +MAIL_ALLOWED_FROM \(.*settings\.json\), RELAY_QUEUE_NAME \(the environment\)/);
    assert.match(output, /ignored +SMTP_HOST \(the environment\): the local stack's own values win/);
    const written = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as Record<string, string>;
    assert.equal(written.MAIL_ALLOWED_FROM, 'billing@example.com', 'the edit stays');
    assert.equal(written.SMTP_PORT, env.LOCAL_SMTP_PORT, "the stack's port of this start");
    assert.equal(written.RELAY_QUEUE_NAME, 'outbound-mail', 'the environment is not written down');

    // The user's MAIL_ALLOWED_FROM is in effect: a message from that address is delivered from it.
    const message = join(dir, 'message.json');
    writeFileSync(message, JSON.stringify({ from: 'billing@example.com', to: 'someone@example.net', subject: 'From billing', text: 'allowed' }));
    await promisify(execFile)(process.execPath, [cli, 'send', '--file', message], { env });
    const maildir = join(dir, 'mail');
    const file = await waitFor('the .eml file', () => (existsSync(maildir) ? readdirSync(maildir).find((name) => name.endsWith('.eml')) : undefined), 30_000);
    const parsed = await simpleParser(readFileSync(join(maildir, file)));
    assert.equal(parsed.subject, 'From billing');
    assert.equal(parsed.from?.value[0]?.address, 'billing@example.com');
  } finally {
    up.kill('SIGTERM');
    assert.equal(await exited, 0, `clean shutdown; output:\n${output}`);
    rmSync(dir, { recursive: true, force: true });
  }
});
