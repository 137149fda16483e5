/**
 * Operations per sender (issue 14, point 4) on the local stack: the doctor checks every
 * sender (or the one --sender names), each section headed by its id; the health endpoint
 * lists each sender's checks; the secret monitor watches every sender's secret with one
 * state blob per sender and log lines that carry its id; setup --sender takes the
 * sender's tenant, client and mailbox from the settings.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID, type LocalStack } from '../../../local/stack';
import { formatReport } from '../../../src/cli/doctor';
import { main, runDoctor } from '../../../src/app/cli';
import { createRelayComponents, type RelayComponents } from '../../../src/app/components';
import { diagnosticTarget, senderTargets } from '../../../src/app/diagnostics';
import { monitorOf } from '../../../src/app/monitor';
import { createHealthHandler } from '../../../src/http/health';
import { loadConfig, type Environment } from '../../../src/settings';
import { silentLogger, type Logger } from '../../../src/core/log';

const BILLING_CLIENT = '5e4d0000-0000-4000-8000-0000000000b2';
const BROKEN_CLIENT = '5e4d0000-0000-4000-8000-0000000000c3';
const OBJECT_ID = '0b1ec700-0000-4000-8000-0000000000d4';
const billingSecret = `billing~${randomBytes(18).toString('base64url')}`;
const brokenSecret = `broken~${randomBytes(18).toString('base64url')}`;

let stack: LocalStack;
const built: RelayComponents[] = [];

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  stack.tokenServer.setClientSecret(BILLING_CLIENT, billingSecret);
  // The broken sender's app registration holds another secret than the one its setting names.
  stack.tokenServer.setClientSecret(BROKEN_CLIENT, `other~${randomBytes(18).toString('base64url')}`);
  stack.smtpServer.grantMailboxes(LOCAL_CLIENT_ID, [LOCAL_MAILBOX]);
  stack.smtpServer.grantMailboxes(BILLING_CLIENT, ['billing@example.com', 'invoices@example.com']);
  stack.smtpServer.grantMailboxes(BROKEN_CLIENT, ['broken@example.com']);
});
after(async () => {
  for (const parts of built) for (const one of parts.senders.built()) one.sender.close();
  await stack?.close();
});

function settings(extra: Environment = {}): Environment {
  const common = { tenant: LOCAL_TENANT_ID, authorityHost: stack.tokenServer.url };
  return {
    ...stack.settings,
    BILLING_SECRET: billingSecret,
    BROKEN_SECRET: brokenSecret,
    RELAY_SENDERS: JSON.stringify([
      {
        id: 'billing',
        mailbox: 'billing@example.com',
        allowedFrom: ['invoices@example.com'],
        clientId: BILLING_CLIENT,
        credential: { secretSetting: 'BILLING_SECRET' },
        ...common,
      },
      { id: 'broken', mailbox: 'broken@example.com', clientId: BROKEN_CLIENT, credential: { secretSetting: 'BROKEN_SECRET' }, ...common },
    ]),
    ...extra,
  };
}

function recording(): Logger & { entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const push = (message: string, props?: Record<string, unknown>) => void entries.push({ message, ...props });
  return { entries, info: push, warn: push, error: push };
}

describe('operations per sender', () => {
  it('doctor checks every sender, each section headed by its id, and fails for the broken one only', async () => {
    const report = await runDoctor({ env: settings() });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.senders?.map((one) => [one.sender, one.ok]),
      [
        ['default', true],
        ['billing', true],
        ['broken', false],
      ],
    );
    const broken = report.senders[2]!;
    assert.equal(broken.firstFailure?.id, 'token');
    assert.match(broken.firstFailure?.finding?.finding ?? '', /secret/i);
    const text = formatReport(report);
    assert.match(text, /== sender default ==[\s\S]*== sender billing ==[\s\S]*== sender broken ==/);
    assert.match(text, /Failed: broken\./);
    assert.ok(!text.includes(billingSecret) && !text.includes(brokenSecret));

    let out = '';
    assert.equal(await main(['doctor'], { env: settings(), out: (chunk) => (out += chunk), err: () => {} }), 1);
    assert.match(out, /== sender billing ==/);
  });

  it('doctor --sender checks that sender alone; an unknown id is a usage error naming the senders', async () => {
    let out = '';
    assert.equal(await main(['doctor', '--sender', 'billing', '--json'], { env: settings(), out: (chunk) => (out += chunk), err: () => {} }), 0);
    const report = JSON.parse(out) as { ok: boolean; senders: Array<{ sender: string; ok: boolean; checks: Array<{ id: string; status: string }> }> };
    assert.deepEqual(
      report.senders.map((one) => one.sender),
      ['billing'],
    );
    assert.ok(report.senders[0]!.checks.every((check) => check.status === 'ok'));
    let err = '';
    assert.equal(await main(['doctor', '--sender', 'payroll'], { env: settings(), out: () => {}, err: (chunk) => (err += chunk) }), 2);
    assert.match(err, /--sender "payroll": no such sender in the settings \(senders: default, billing, broken\)/);
  });

  it("the health endpoint lists each sender's checks and is unhealthy while one sender fails", async () => {
    const parts = createRelayComponents(loadConfig(settings()), silentLogger);
    built.push(parts);
    const handler = createHealthHandler(() => diagnosticTarget(() => parts), { senders: () => senderTargets(() => parts) });
    const answer = await handler({ method: 'GET', query: new URLSearchParams() } as Parameters<typeof handler>[0]);
    assert.equal(answer.status, 503);
    const body = answer.jsonBody as { status: string; senders: Array<{ sender: string; status: string; checks: Array<{ id: string; status: string }> }> };
    assert.equal(body.status, 'unhealthy');
    assert.deepEqual(
      body.senders.map((one) => [one.sender, one.status]),
      [
        ['default', 'healthy'],
        ['billing', 'healthy'],
        ['broken', 'unhealthy'],
      ],
    );
    assert.equal(body.senders[2]!.checks.find((check) => check.id === 'token')?.status, 'failed');
    assert.ok(!JSON.stringify(body).includes(brokenSecret));
  });

  it('the secret monitor covers every sender, one state blob per sender, its lines carrying the sender id', async () => {
    const container = 'senders-monitor';
    const parts = createRelayComponents(loadConfig(settings({ MONITOR_STATE_CONTAINER: container })), silentLogger);
    built.push(parts);
    await BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient(container).createIfNotExists();
    const logger = recording();
    const report = await monitorOf(parts).run(logger);
    assert.equal(report.tokenOk, true);
    assert.equal(report.senders?.billing?.tokenOk, true);
    assert.equal(report.senders?.billing?.smtpOk, true);
    assert.equal(report.senders?.broken?.tokenOk, false);
    const blobs: string[] = [];
    for await (const blob of BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient(container).listBlobsFlat())
      blobs.push(blob.name);
    assert.ok(blobs.includes('secret-monitor/senders/billing.json'), blobs.join(', '));
    assert.ok(blobs.includes('secret-monitor/senders/broken.json'), blobs.join(', '));
    const brokenLines = logger.entries.filter((entry) => entry.sender === 'broken');
    assert.ok(brokenLines.length > 0);
    assert.ok(!JSON.stringify(logger.entries).includes(brokenSecret));
  });

  it("setup --sender takes the sender's tenant, client, mailbox and From addresses from the settings", async () => {
    let printed = '';
    const folder = mkdtempSync(join(tmpdir(), 'setup-sender-'));
    const code = await main(['setup', '--sender', 'billing', '--object-id', OBJECT_ID, '--out', folder], {
      env: settings(),
      out: (chunk) => (printed += chunk),
      err: (chunk) => (printed += chunk),
    });
    assert.equal(code, 0, printed);
    // What setup wrote (the two scripts) and printed, together.
    const out = [printed, readFileSync(join(folder, 'setup-entra.sh'), 'utf8'), readFileSync(join(folder, 'setup-exchange.ps1'), 'utf8')].join('\n');
    rmSync(folder, { recursive: true, force: true });
    assert.ok(out.includes(BILLING_CLIENT), "the sender's client id");
    assert.ok(out.includes(LOCAL_TENANT_ID), "the sender's tenant");
    assert.ok(out.includes('billing@example.com'), "the sender's mailbox");
    assert.ok(out.includes('invoices@example.com'), 'its other From address, for SendAs');
    assert.ok(!out.includes(billingSecret));
  });
});
