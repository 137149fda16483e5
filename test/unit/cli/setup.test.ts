/** `oauth2-smtp-relay setup`: the values it takes, the files it writes, and what `--check` names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/app/cli';
import { checkSetupValues, firstMissingStep } from '../../../src/cli/setup';
import { stepLabel } from '../../../src/core/setupSteps';
import type { CheckReport } from '../../../src/diagnostics/checks';
import { findingFor } from '../../../src/diagnostics/findings';

const values = {
  tenantId: '7a1c0de0-0000-4000-8000-00000000cafe',
  clientId: '5e4d0000-0000-4000-8000-0000000000a1',
  objectId: '0b1ec700-0000-4000-8000-0000000000e1',
  mailbox: 'relay@contoso.com',
  sendAs: ['noreply@contoso.com', "o'brien@contoso.com"],
  keyVault: 'kv-relay',
  secretName: 'smtp-secret',
  functionApp: 'func-relay',
  resourceGroup: 'rg-relay',
  secretDays: 90,
};

function capture() {
  const io = { env: {}, out: (text: string) => (io.stdout += text), err: (text: string) => (io.stderr += text), stdout: '', stderr: '' };
  return io;
}

test('the common mistakes are refused: the client id given as object id, a non-GUID, a bad mailbox', () => {
  const problems = checkSetupValues({ ...values, objectId: values.clientId, tenantId: 'not a tenant', mailbox: 'relay' });
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems.join('\n'), /--object-id: is the Application \(client\) ID/);
  assert.deepEqual(checkSetupValues(values), []);
});

test('each mode asks for what it needs and refuses what it would ignore', () => {
  const minimal = { tenantId: values.tenantId, mailbox: values.mailbox };
  assert.deepEqual(checkSetupValues(minimal), [], 'the secret mode needs nothing more');
  assert.deepEqual(checkSetupValues({ ...minimal, mode: 'keyvault' }), ['--mode keyvault: needs --key-vault']);
  assert.match(checkSetupValues({ ...minimal, mode: 'secret', keyVault: 'kv-relay' }).join(), /use --mode keyvault/);
  assert.match(checkSetupValues({ ...minimal, mode: 'federation' }).join(), /needs --identity-principal-id .* or --function-app and --resource-group/);
  assert.deepEqual(checkSetupValues({ ...minimal, mode: 'federation', identityPrincipalId: '1d000000-0000-4000-8000-0000000000aa' }), []);
  assert.match(
    checkSetupValues({ ...minimal, mode: 'federation', functionApp: 'f', resourceGroup: 'g', keyVault: 'kv-relay', secretDays: 30 }).join('\n'),
    /--key-vault: the federation mode has no client secret\n--secret-days: the federation mode has no client secret/,
  );
  assert.match(checkSetupValues({ ...minimal, functionApp: 'func-relay' }).join(), /give both or neither/);
  assert.match(checkSetupValues({ ...minimal, mode: 'other' as never }).join(), /--mode: one of secret, keyvault, federation, certificate/);
  assert.deepEqual(checkSetupValues({ ...minimal, mode: 'certificate' }), [
    '--mode certificate: needs --key-vault (the certificate and its private key live there)',
  ]);
  assert.deepEqual(checkSetupValues({ ...minimal, mode: 'certificate', keyVault: 'kv-relay', certificateName: 'relay-cert' }), []);
  assert.match(
    checkSetupValues({ ...minimal, mode: 'certificate', keyVault: 'kv-relay', secretName: 's', secretDays: 30 }).join('\n'),
    /--secret-name: the certificate mode has no client secret.*\n--secret-days: the certificate mode has no client secret/,
  );
  assert.match(checkSetupValues({ ...minimal, keyVault: 'kv-relay', certificateName: 'relay-cert' }).join(), /--certificate-name: only the certificate mode/);
  assert.match(checkSetupValues({ ...minimal, mode: 'certificate', keyVault: 'kv-relay', certificateName: "it's" }).join(), /--certificate-name: a Key Vault/);
  assert.match(checkSetupValues({ ...minimal, identityPrincipalId: 'x' }).join(), /--identity-principal-id: must be/);
});

test('hostile values: a line break or control character in any text value is refused; quotes, $() and backticks are accepted (and quoted)', () => {
  const minimal = { tenantId: values.tenantId, mailbox: values.mailbox };
  assert.match(checkSetupValues({ ...minimal, appName: 'relay\nrm -rf ~' }).join(), /--app-name: 1 to 120 characters, no line breaks/);
  assert.match(checkSetupValues({ ...minimal, appName: 'relay\u001b[2J' }).join(), /--app-name/);
  assert.match(checkSetupValues({ ...minimal, appName: ' ' }).join(), /--app-name/);
  assert.match(checkSetupValues({ ...minimal, mailbox: 'relay@contoso.com\nBcc: x@y.z' }).join(), /--mailbox/);
  assert.match(checkSetupValues({ ...minimal, sendAs: ['a@b.com\r\n'] }).join(), /--send-as/);
  assert.match(checkSetupValues({ ...minimal, tenantId: "contoso.com'; id" }).join(), /--tenant-id/);
  assert.deepEqual(checkSetupValues({ ...minimal, appName: `it's "$(id)" \`id\` ’‘‚‛`, sendAs: ["o'b`id`$HOME’@contoso.com"] }), []);
});

test('setup writes both scripts to --out (0755 and 0644), prints what to run, and exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-setup-'));
  try {
    const io = capture();
    const out = join(dir, 'scripts');
    const args = ['setup', '--tenant-id', values.tenantId, '--mailbox', values.mailbox, '--key-vault', 'kv-relay', '--out', out];
    assert.equal(await main(args, io), 0, io.stderr);
    assert.equal(statSync(join(out, 'setup-entra.sh')).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, 'setup-exchange.ps1')).mode & 0o777, 0o644);
    assert.match(io.stdout, /Mode: keyvault\./);
    assert.match(io.stdout, new RegExp(`1\\. bash ${join(out, 'setup-entra.sh').replace(/[.]/g, '\\.')}`));
    assert.match(readFileSync(join(out, 'setup-entra.sh'), 'utf8'), /^key_vault='kv-relay'$/m);
    // Run again: the files are replaced, not appended to.
    const first = readFileSync(join(out, 'setup-exchange.ps1'), 'utf8');
    assert.equal(await main(args, capture()), 0);
    assert.equal(readFileSync(join(out, 'setup-exchange.ps1'), 'utf8').length, first.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setup --mode certificate --certificate-name writes the certificate steps with that name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-setup-'));
  try {
    const io = capture();
    const args = ['setup', '--tenant-id', values.tenantId, '--mailbox', values.mailbox, '--mode', 'certificate', '--key-vault', 'kv-relay'];
    assert.equal(await main([...args, '--certificate-name', 'relay-cert', '--out', dir], io), 0, io.stderr);
    assert.match(io.stdout, /Mode: certificate\./);
    const script = readFileSync(join(dir, 'setup-entra.sh'), 'utf8');
    assert.match(script, /^certificate_name='relay-cert'$/m);
    assert.match(script, /az keyvault certificate create --vault-name "\$key_vault" --name "\$certificate_name"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("setup --sender of a certificate sender takes the certificate mode and the certificate's name from the settings", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-setup-'));
  try {
    const io = capture();
    Object.assign(io.env, {
      OAUTH2_TENANT_ID: values.tenantId,
      OAUTH2_CLIENT_ID: values.clientId,
      SMTP_USER: values.mailbox,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      OAUTH2_AUTH_MODE: 'certificate',
      KEYVAULT_URL: 'https://kv-relay.vault.azure.net/',
      OAUTH2_CLIENT_CERTIFICATE_NAME: 'relay-cert',
    });
    assert.equal(await main(['setup', '--sender', 'default', '--key-vault', 'kv-relay', '--out', dir], io), 0, io.stderr);
    assert.match(io.stdout, /Mode: certificate\./);
    const script = readFileSync(join(dir, 'setup-entra.sh'), 'utf8');
    assert.match(script, /^certificate_name='relay-cert'$/m);
    assert.match(script, new RegExp(`^client_id='${values.clientId}'$`, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing or wrong values exit 2 with the reason, and write nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-setup-'));
  try {
    const io = capture();
    assert.equal(await main(['setup', '--client-id', values.clientId, '--out', dir], io), 2);
    assert.match(io.stderr, /missing --tenant-id, --mailbox/);
    const args = ['setup', '--tenant-id', values.tenantId, '--mailbox', values.mailbox, '--client-id', values.clientId, '--object-id', values.clientId];
    assert.equal(await main([...args, '--out', dir], io), 2);
    assert.match(io.stderr, /--object-id: is the Application \(client\) ID/);
    assert.equal(await main(['setup', '--tenant-id', values.tenantId, '--mailbox', values.mailbox, '--mode', 'federation', '--out', dir], io), 2);
    assert.match(io.stderr, /--mode federation: needs --identity-principal-id/);
    assert.equal(await main(['setup', '--tenant-id', values.tenantId, '--mailbox', values.mailbox, '--mode', 'certificate', '--out', dir], io), 2);
    assert.match(io.stderr, /--mode certificate: needs --key-vault/);
    assert.throws(() => statSync(join(dir, 'setup-entra.sh')), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function failedAt(diagnosis: Parameters<typeof findingFor>[0]): CheckReport {
  const failed = { id: 'smtp_auth' as const, title: 'SMTP login', status: 'failed' as const, durationMs: 1, finding: findingFor(diagnosis) };
  return { ok: false, checks: [failed], firstFailure: failed };
}

test('--check names the first guide step the failing check points to, and the script that does it', () => {
  assert.equal(firstMissingStep({ ok: true, checks: [] }), undefined);
  assert.equal(
    firstMissingStep(failedAt('exchange_access_missing')),
    `First setup step still missing: ${stepLabel('servicePrincipal')}.\nDone by: setup-exchange.ps1.`,
  );
  assert.match(firstMissingStep(failedAt('token_role_missing'))!, /Azure portal, step 5: API permission .*\nDone by: setup-entra\.sh\./);
  assert.match(firstMissingStep(failedAt('certificate_not_registered'))!, /Done by: setup-entra\.sh with --mode certificate --key-vault <vault>/);
  assert.match(firstMissingStep(failedAt('smtp_auth_disabled'))!, /Microsoft 365 admin center, step 2: Authenticated SMTP.*\nDone by: setup-exchange\.ps1\./);
  const unnamed = { id: 'smtp_auth' as const, title: 'SMTP login', status: 'failed' as const, durationMs: 1, finding: { finding: 'odd', steps: [], fix: 'x' } };
  assert.match(firstMissingStep({ ok: false, checks: [unnamed], firstFailure: unnamed })!, /none named; the check "SMTP login" failed/);
});
