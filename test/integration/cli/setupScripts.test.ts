/**
 * The scripts `setup` writes, run: bash parses them, hostile values read back as
 * themselves in bash, and setup-entra.sh runs against AzCliDouble (a stand-in
 * for `az`: no tenant here) for each mode — everything made on the first run,
 * nothing made or changed on the second, and the client secret never on screen
 * or on a command line. The command itself runs as a user runs it (the bin, in
 * a folder of its own).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entraScript } from '../../../src/cli/setupEntraScript';
import type { SetupValues } from '../../../src/cli/setupValues';
import { stepLabel } from '../../../src/core/setupSteps';
import { binPath, runProcess } from '../../support/command';
import { DOUBLE_CLIENT_SECRET, freshTenant, GRAPH_APP, GRAPH_ROLE_IDS, installAzDouble, type AzState } from '../../doubles/azCliDouble';

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const IDENTITY = { principalId: '1d000000-0000-4000-8000-0000000000aa', clientId: '1dc00000-0000-4000-8000-0000000000cc' };
const NOW = new Date('2026-11-30T12:00:00Z');

let dir: string;
let canary: string;
let hostileName: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-setup-scripts-'));
  canary = join(dir, 'pwned');
  hostileName = `it's "$(touch ${canary})" \`touch ${canary}\` $HOME ’‘‚‛ ''`;
});

after(() => rmSync(dir, { recursive: true, force: true }));

const bash = (script: string, env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) => runProcess('bash', ['-c', script], { env, cwd: dir });

test('bash parses the script of every mode (bash -n), with hostile values in it', async () => {
  const values: SetupValues[] = [
    { tenantId: TENANT, mailbox: 'relay@contoso.com', appName: hostileName, sendAs: ["o'b`id`$HOME’@contoso.com"] },
    { tenantId: 'contoso.com', mailbox: 'relay@contoso.com', mode: 'keyvault', keyVault: 'kv-relay', functionApp: 'func-relay', resourceGroup: 'rg' },
    { tenantId: TENANT, mailbox: 'relay@contoso.com', mode: 'federation', identityPrincipalId: IDENTITY.principalId, clientId: IDENTITY.clientId },
    { tenantId: TENANT, mailbox: 'relay@contoso.com', mode: 'secret', functionApp: 'func-relay', resourceGroup: 'rg' },
    { tenantId: TENANT, mailbox: 'relay@contoso.com', mode: 'certificate', keyVault: 'kv-relay', functionApp: 'func-relay', resourceGroup: 'rg' },
    { tenantId: TENANT, mailbox: 'relay@contoso.com', appName: hostileName, transport: 'graph', graphLargeMessages: true },
    { tenantId: TENANT, mailbox: 'relay@contoso.com', transport: 'smtp-then-graph', graphScope: 'access-policy', graphGroup: 'g@contoso.com' },
    { tenantId: TENANT, mailbox: 'relay@contoso.com', transport: 'graph', graphScope: 'none' },
  ];
  for (const value of values) {
    const file = join(dir, 'parse.sh');
    writeFileSync(file, entraScript(value, NOW));
    const parsed = await runProcess('bash', ['-n', file]);
    assert.equal(parsed.status, 0, parsed.stderr);
  }
});

test('each hostile value reads back in bash as itself, and none of it runs', async () => {
  const sendAs = ["o'b`touch pwned`$HOME’@contoso.com", 'x$(touch${IFS}pwned)y@contoso.com'];
  const script = entraScript({ tenantId: TENANT, mailbox: 'relay@contoso.com', appName: hostileName, sendAs }, NOW);
  for (const [name, expected] of [
    ['app_name', hostileName],
    ['app_name_filter', `'${hostileName.replace(/'/g, "''")}'`],
    ['allowed_from', sendAs.join(',')],
  ] as const) {
    const line = new RegExp(`^${name}=.*$`, 'm').exec(script)![0];
    const read = await bash(`${line}\nprintf %s "$${name}"`);
    assert.equal(read.status, 0, read.stderr);
    assert.equal(read.stdout, expected, name);
  }
  assert.equal(existsSync(canary) || existsSync(join(dir, 'pwned')), false, 'nothing in a value ran');
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Writes the script for `values` into its own folder and runs it with the double first on PATH: a new double for `state`, else the folder's. */
async function runEntra(name: string, values: SetupValues, state?: AzState): Promise<Run & { state: AzState }> {
  const folder = join(dir, name);
  const stateFile = join(folder, 'az-state.json');
  const binDir = state ? installAzDouble(folder, state).binDir : join(folder, 'bin');
  const file = join(folder, 'setup-entra.sh');
  writeFileSync(file, entraScript(values, NOW));
  const run = await runProcess('bash', [file], { env: { PATH: `${binDir}:${process.env.PATH}` }, cwd: folder });
  return { ...run, state: JSON.parse(readFileSync(stateFile, 'utf8')) as AzState };
}

const CREATING = [
  /^ad app create/,
  /^ad sp create/,
  /^ad app permission add/,
  /^ad app credential reset/,
  /^role assignment create/,
  /^ad app federated-credential create/,
  /^keyvault certificate create/,
  /^rest --method POST/,
];
const creates = (state: AzState) => state.calls.map((call) => call.join(' ')).filter((call) => CREATING.some((pattern) => pattern.test(call)));

/** The secret never reaches the output or a command line (the calls' arguments). */
function assertSecretKept(run: Run, state: AzState) {
  for (const text of [run.stdout, run.stderr, JSON.stringify(state.calls)]) assert.equal(text.includes(DOUBLE_CLIENT_SECRET), false);
}

function withoutCalls(state: AzState) {
  return { ...state, calls: [] };
}

test('the Key Vault mode: app, enterprise application, SMTP.SendAsApp with consent, secret into Key Vault, role, settings; the second run makes nothing', async () => {
  const tenant = freshTenant(TENANT);
  tenant.vaults.push({ name: 'kv-relay', secrets: {} });
  tenant.functionApps.push({ name: 'func-relay', group: 'rg-relay', userAssigned: [IDENTITY], settings: {} });
  const values: SetupValues = {
    tenantId: TENANT,
    mailbox: 'relay@contoso.com',
    appName: hostileName,
    mode: 'keyvault',
    keyVault: 'kv-relay',
    secretDays: 90,
    functionApp: 'func-relay',
    resourceGroup: 'rg-relay',
    sendAs: ['noreply@contoso.com'],
  };
  const first = await runEntra('keyvault', values, tenant);
  assert.equal(first.status, 0, first.stderr);
  const state = first.state;
  assert.equal(state.apps.length, 1);
  const app = state.apps[0]!;
  assert.equal(app.displayName, hostileName, 'the display name reached az exactly');
  const sp = state.servicePrincipals.find((entry) => entry.appId === app.appId)!;
  assert.deepEqual(app.requiredRoles, [tenant.exchangeRoleId]);
  assert.deepEqual(state.appRoleAssignments, [{ principalId: sp.id, resourceId: tenant.servicePrincipals[0]!.id, appRoleId: tenant.exchangeRoleId }]);
  const secret = state.vaults[0]!.secrets['smtp-relay-client-secret']!;
  assert.equal(secret.value, DOUBLE_CLIENT_SECRET, 'stored whole, without the newline az prints');
  assert.equal(secret.expires, app.passwords[0], 'Key Vault and Entra expire together');
  const days = (Date.parse(secret.expires) - Date.now()) / 86_400_000;
  assert.ok(days > 89 && days < 91, secret.expires);
  assert.deepEqual(state.roleAssignments, [
    {
      assignee: IDENTITY.principalId,
      role: 'Key Vault Secrets User',
      scope: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-relay',
    },
  ]);
  assert.deepEqual(state.functionApps[0]!.settings, {
    OAUTH2_TENANT_ID: TENANT,
    OAUTH2_CLIENT_ID: app.appId,
    SMTP_USER: 'relay@contoso.com',
    MAIL_ALLOWED_FROM: 'noreply@contoso.com',
    KEYVAULT_URL: 'https://kv-relay.vault.azure.net',
    OAUTH2_CLIENT_SECRET_NAME: 'smtp-relay-client-secret',
    MANAGED_IDENTITY_CLIENT_ID: IDENTITY.clientId,
  });
  for (const id of ['tenantId', 'enterpriseApplication', 'apiPermission', 'clientSecret', 'keyVault', 'oauthSettings'] as const) {
    assert.ok(first.stdout.includes(`(replaces ${stepLabel(id)})`), id);
  }
  assert.match(first.stdout, new RegExp(`pwsh -File \\./setup-exchange\\.ps1 -AppId '${app.appId}' -ObjectId '${sp.id}'`));
  assertSecretKept(first, state);

  const second = await runEntra('keyvault', values);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(creates(second.state), creates(state), 'nothing created on the second run');
  assert.deepEqual(withoutCalls(second.state), withoutCalls(state));
  assert.match(second.stdout, /found app registration/);
  assert.match(second.stdout, /kept the secret smtp-relay-client-secret already in kv-relay/);
  assert.match(second.stdout, /admin consent for SMTP\.SendAsApp was already granted/);
  assert.match(second.stdout, new RegExp(`-AppId '${app.appId}' -ObjectId '${sp.id}'`));
});

test('the federation mode: a federated credential for the managed identity and no client secret; the second run makes nothing', async () => {
  const tenant = freshTenant(TENANT);
  const values: SetupValues = { tenantId: TENANT, mailbox: 'relay@contoso.com', mode: 'federation', identityPrincipalId: IDENTITY.principalId };
  const first = await runEntra('federation', values, tenant);
  assert.equal(first.status, 0, first.stderr);
  const app = first.state.apps[0]!;
  assert.equal(app.displayName, 'oauth2-smtp-relay');
  assert.deepEqual(app.passwords, [], 'no client secret');
  assert.deepEqual(app.federated, [
    {
      name: 'oauth2-smtp-relay-1d000000',
      issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`,
      subject: IDENTITY.principalId,
      audiences: ['api://AzureADTokenExchange'],
    },
  ]);
  assert.match(first.stdout, /OAUTH2_AUTH_MODE=managed-identity-federation/);
  const again = await runEntra('federation', values);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(withoutCalls(again.state), withoutCalls(first.state));
  assert.match(again.stdout, /federated credential for 1d000000-0000-4000-8000-0000000000aa is already there/);
});

test('the secret mode: the new secret goes straight into the app setting, never shown; an existing one is kept', async () => {
  const tenant = freshTenant(TENANT);
  tenant.functionApps.push({ name: 'func-relay', group: 'rg-relay', userAssigned: [IDENTITY], settings: {} });
  const values: SetupValues = { tenantId: 'contoso.com', mailbox: 'relay@contoso.com', mode: 'secret', functionApp: 'func-relay', resourceGroup: 'rg-relay' };
  const first = await runEntra('secret', values, tenant);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.state.functionApps[0]!.settings.OAUTH2_CLIENT_SECRET, DOUBLE_CLIENT_SECRET);
  assertSecretKept(first, first.state);
  const again = await runEntra('secret', values);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.state.apps[0]!.passwords.length, 1, 'no second secret');
  assert.match(again.stdout, /kept the app setting OAUTH2_CLIENT_SECRET of func-relay/);
});

test('the certificate mode: PEM certificate made in Key Vault, its public part on the app, the read role, the settings; the second run makes nothing', async () => {
  const tenant = freshTenant(TENANT);
  tenant.vaults.push({ name: 'kv-relay', secrets: {} });
  tenant.functionApps.push({ name: 'func-relay', group: 'rg-relay', userAssigned: [IDENTITY], settings: {} });
  const values: SetupValues = {
    tenantId: TENANT,
    mailbox: 'relay@contoso.com',
    mode: 'certificate',
    keyVault: 'kv-relay',
    certificateName: 'relay-cert',
    functionApp: 'func-relay',
    resourceGroup: 'rg-relay',
  };
  const first = await runEntra('certificate', values, tenant);
  assert.equal(first.status, 0, first.stderr);
  const state = first.state;
  const app = state.apps[0]!;
  const certificate = state.vaults[0]!.certificates!['relay-cert']!;
  assert.equal(certificate.contentType, 'application/x-pem-file');
  assert.deepEqual(app.passwords, [], 'no client secret');
  assert.deepEqual(app.certificates, [Buffer.from(certificate.thumbprint!, 'hex').toString('base64')], 'the public part uploaded once');
  assert.deepEqual(state.vaults[0]!.secrets, {}, 'no secret written to the vault');
  assert.deepEqual(state.roleAssignments, [
    {
      assignee: IDENTITY.principalId,
      role: 'Key Vault Secrets User',
      scope: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-relay',
    },
  ]);
  assert.deepEqual(state.functionApps[0]!.settings, {
    OAUTH2_TENANT_ID: TENANT,
    OAUTH2_CLIENT_ID: app.appId,
    SMTP_USER: 'relay@contoso.com',
    OAUTH2_AUTH_MODE: 'certificate',
    KEYVAULT_URL: 'https://kv-relay.vault.azure.net',
    OAUTH2_CLIENT_CERTIFICATE_NAME: 'relay-cert',
    MANAGED_IDENTITY_CLIENT_ID: IDENTITY.clientId,
  });
  assert.match(first.stdout, /created the certificate relay-cert in kv-relay/);
  assert.match(first.stdout, new RegExp(`uploaded the public part of relay-cert \\(thumbprint ${certificate.thumbprint}\\)`));
  assert.ok(first.stdout.includes(`(replaces ${stepLabel('clientCertificate')})`));

  const second = await runEntra('certificate', values);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(creates(second.state), creates(state), 'nothing created on the second run');
  assert.deepEqual(withoutCalls(second.state), withoutCalls(state));
  assert.match(second.stdout, /kept the certificate relay-cert already in kv-relay/);
  assert.match(second.stdout, new RegExp(`the app registration already has the certificate ${certificate.thumbprint}`));
});

test('the certificate mode after a renewal: the new version is uploaded beside the old; a PKCS#12 certificate stops the script', async () => {
  const tenant = freshTenant(TENANT);
  const appId = 'aaaaaaaa-0000-4000-8000-00000000000a';
  const old = 'AB'.repeat(20);
  const renewed = 'cd'.repeat(20);
  tenant.apps.push({
    appId,
    displayName: 'oauth2-smtp-relay',
    requiredRoles: [],
    passwords: [],
    federated: [],
    certificates: [Buffer.from(old, 'hex').toString('base64')],
  });
  tenant.vaults.push({
    name: 'kv-relay',
    secrets: {},
    certificates: { 'smtp-relay-client-certificate': { thumbprint: renewed, contentType: 'application/x-pem-file', policy: {} } },
  });
  const values: SetupValues = { tenantId: TENANT, mailbox: 'relay@contoso.com', mode: 'certificate', keyVault: 'kv-relay', clientId: appId };
  const run = await runEntra('certificate-renewed', values, tenant);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(
    run.state.apps[0]!.certificates,
    [old, renewed].map((hex) => Buffer.from(hex, 'hex').toString('base64')),
    'appended, the old one kept',
  );
  assert.equal(creates(run.state).filter((call) => call.startsWith('keyvault certificate create')).length, 0, 'the vault already had it');

  const pkcs12 = freshTenant(TENANT);
  pkcs12.vaults.push({
    name: 'kv-relay',
    secrets: {},
    certificates: { 'smtp-relay-client-certificate': { thumbprint: renewed, contentType: 'application/x-pkcs12', policy: {} } },
  });
  const refused = await runEntra('certificate-pkcs12', { ...values, clientId: undefined }, pkcs12);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /stored as application\/x-pkcs12, not application\/x-pem-file: the relay cannot read it/);
  assert.equal(refused.state.apps[0]!.certificates, undefined, 'nothing uploaded');
});

test('the script stops, saying why, when az is signed out, signed in elsewhere, or the app name is ambiguous', async () => {
  const values: SetupValues = { tenantId: TENANT, mailbox: 'relay@contoso.com' };
  const signedOut = await runEntra('signed-out', values, { ...freshTenant(TENANT), signedIn: false });
  assert.equal(signedOut.status, 1);
  assert.match(signedOut.stderr, /stopped: az is not signed in: run az login --tenant 7a1c0de0/);
  const elsewhere = await runEntra('elsewhere', values, freshTenant('11111111-2222-4333-8444-555555555555'));
  assert.equal(elsewhere.status, 1);
  assert.match(elsewhere.stderr, /signed in to tenant 11111111-2222-4333-8444-555555555555, not 7a1c0de0/);
  const twice = freshTenant(TENANT);
  for (const appId of ['aaaaaaaa-0000-4000-8000-00000000000a', 'bbbbbbbb-0000-4000-8000-00000000000b']) {
    twice.apps.push({ appId, displayName: 'oauth2-smtp-relay', requiredRoles: [], passwords: [], federated: [] });
  }
  const ambiguous = await runEntra('ambiguous', values, twice);
  assert.equal(ambiguous.status, 1);
  assert.match(ambiguous.stderr, /several app registrations are called oauth2-smtp-relay: .*--client-id/);
  assert.deepEqual(creates(ambiguous.state), []);
});

test('the command, as a user runs it, writes both scripts into ./relay-setup of the current folder', async () => {
  const cwd = mkdtempSync(join(dir, 'cwd-'));
  const run = await runProcess(process.execPath, [binPath(), 'setup', '--tenant-id', TENANT, '--mailbox', 'relay@contoso.com', '--key-vault', 'kv-relay'], {
    cwd,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /Wrote .*relay-setup\/setup-entra\.sh/);
  const parsed = await runProcess('bash', ['-n', join(cwd, 'relay-setup', 'setup-entra.sh')]);
  assert.equal(parsed.status, 0, parsed.stderr);
  assert.match(readFileSync(join(cwd, 'relay-setup', 'setup-exchange.ps1'), 'utf8'), /New-ServicePrincipal -AppId \$AppId -ObjectId \$ObjectId/);
});

test('a Graph sender with an access policy: Mail.Send and Mail.ReadWrite of Microsoft Graph requested and consented, no SMTP.SendAsApp; the second run makes nothing', async () => {
  const tenant = freshTenant(TENANT);
  const values: SetupValues = {
    tenantId: TENANT,
    mailbox: 'relay@contoso.com',
    transport: 'graph',
    graphScope: 'access-policy',
    graphGroup: 'relay-senders@contoso.com',
    graphLargeMessages: true,
  };
  const first = await runEntra('graph-access-policy', values, tenant);
  assert.equal(first.status, 0, first.stderr);
  const app = first.state.apps[0]!;
  const sp = first.state.servicePrincipals.find((entry) => entry.appId === app.appId)!;
  const graphSp = tenant.servicePrincipals.find((entry) => entry.appId === GRAPH_APP)!;
  assert.deepEqual(app.requiredRoles, [GRAPH_ROLE_IDS['Mail.Send'], GRAPH_ROLE_IDS['Mail.ReadWrite']], 'Graph only: no SMTP.SendAsApp');
  assert.deepEqual(
    first.state.appRoleAssignments,
    ['Mail.Send', 'Mail.ReadWrite'].map((role) => ({ principalId: sp.id, resourceId: graphSp.id, appRoleId: GRAPH_ROLE_IDS[role as 'Mail.Send'] })),
  );
  assert.match(first.stdout, /\(replaces Azure portal: API permission Microsoft Graph → Mail\.Send/);
  assert.match(first.stdout, /admin consent granted for Microsoft Graph Mail\.ReadWrite/);
  assert.match(first.stdout, /RELAY_TRANSPORT=graph/);
  const again = await runEntra('graph-access-policy', values);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(withoutCalls(again.state), withoutCalls(first.state), 'nothing made or changed on the second run');
  assert.match(again.stdout, /admin consent for Microsoft Graph Mail\.Send was already granted/);
});

test('a Graph sender scoped by RBAC for Applications: nothing consented tenant-wide, and an existing Graph consent stops the script', async () => {
  const values: SetupValues = { tenantId: TENANT, mailbox: 'relay@contoso.com', transport: 'graph' };
  const first = await runEntra('graph-rbac', values, freshTenant(TENANT));
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(first.state.apps[0]!.requiredRoles, []);
  assert.deepEqual(first.state.appRoleAssignments, []);
  assert.match(first.stdout, /no tenant-wide consent for Mail\.Send: setup-exchange\.ps1 assigns Application Mail\.Send on the sending mailboxes only/);

  // Someone consented Mail.Send in the portal: every mailbox is open, whatever Exchange's scope says.
  const consented = first.state;
  const sp = consented.servicePrincipals.find((entry) => entry.appId === consented.apps[0]!.appId)!;
  const graphSp = consented.servicePrincipals.find((entry) => entry.appId === GRAPH_APP)!;
  consented.appRoleAssignments.push({ principalId: sp.id, resourceId: graphSp.id, appRoleId: GRAPH_ROLE_IDS['Mail.Send'] });
  const refused = await runEntra('graph-rbac-consented', values, { ...consented, calls: [] });
  assert.equal(refused.status, 1);
  assert.match(
    refused.stderr,
    /admin consent for Microsoft Graph Mail\.Send, which covers every mailbox of the tenant: RBAC for Applications adds to a consent, it cannot narrow it/,
  );
  assert.deepEqual(creates(refused.state), []);
});
