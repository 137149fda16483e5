/**
 * `setup --check` against the local tenant (the Entra-shaped token endpoint and
 * the Exchange-shaped SMTP server): the doctor's report, then the first guide
 * step still missing and the script that does it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/app/cli';
import { stepLabel } from '../../../src/core/setupSteps';
import { CLIENT_ID, startLocalTenant, type LocalTenant } from '../../support/localSetup';

let tenant: LocalTenant;
let dir: string;

before(async () => {
  tenant = await startLocalTenant();
  dir = mkdtempSync(join(tmpdir(), 'relay-setup-check-'));
});

after(async () => {
  await tenant?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function check(settings: Record<string, string>): Promise<{ code: number; out: string }> {
  const file = join(dir, `settings-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: settings }));
  let out = '';
  const io = { env: {}, out: (text: string) => (out += text), err: (text: string) => (out += text) };
  return { code: await main(['setup', '--check', '--settings', file], io), out };
}

test('a complete setup: every check passes and nothing is missing', async () => {
  const { code, out } = await check(tenant.settings());
  assert.equal(code, 0, out);
  assert.match(out, /All checks passed/);
  assert.match(out, /Every setup step the doctor checks is done\.\n$/);
});

test('the Exchange side missing (535 5.7.3 with a good token): the service principal step, done by setup-exchange.ps1', async () => {
  const { code, out } = await check(tenant.settings({ SMTP_USER: 'someone-else@contoso.example' }));
  assert.equal(code, 1);
  assert.match(out, /\[FAIL\] /);
  assert.ok(out.endsWith(`First setup step still missing: ${stepLabel('servicePrincipal')}.\nDone by: setup-exchange.ps1.\n`), out);
});

test('SMTP.SendAsApp not consented: the API permission step, done by setup-entra.sh', async () => {
  tenant.tokenServer.setClientRoles(CLIENT_ID, []);
  try {
    const { code, out } = await check(tenant.settings());
    assert.equal(code, 1);
    assert.ok(out.endsWith(`First setup step still missing: ${stepLabel('apiPermission')}.\nDone by: setup-entra.sh.\n`), out);
  } finally {
    tenant.tokenServer.setClientRoles(CLIENT_ID, ['SMTP.SendAsApp']);
  }
});

test('Authenticated SMTP off for the mailbox (535 5.7.139): the Microsoft 365 step, done by setup-exchange.ps1', async () => {
  tenant.smtpServer.failNext('auth', { code: 535, message: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.' });
  const { code, out } = await check(tenant.settings());
  assert.equal(code, 1);
  assert.ok(out.endsWith(`First setup step still missing: ${stepLabel('authenticatedSmtp')}.\nDone by: setup-exchange.ps1.\n`), out);
});
