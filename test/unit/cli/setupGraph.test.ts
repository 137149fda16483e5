/**
 * `setup` for a Microsoft Graph sender (--transport graph | smtp-then-graph): Graph's
 * Mail.Send (and Mail.ReadWrite for large messages) in setup-entra.sh, its scope to the
 * sending mailboxes in setup-exchange.ps1 (RBAC for Applications by default, an
 * application access policy, or none), and no SMTP step for a Graph-only sender.
 * (test/integration/cli/setupScripts.test.ts runs the Entra script against the az double.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/app/cli';
import { entraScript } from '../../../src/cli/setupEntraScript';
import { exchangeScript } from '../../../src/cli/setupExchangeScript';
import { checkSetupValues } from '../../../src/cli/setup';
import { GRAPH_APP_ROLE_IDS, MICROSOFT_GRAPH_APP_ID } from '../../../src/cli/setupGraph';
import type { SetupValues } from '../../../src/cli/setupValues';
import { stepLabel, type SetupStepId } from '../../../src/core/setupSteps';
import { GRAPH_APP, GRAPH_ROLE_IDS } from '../../doubles/azCliDouble';
import { readPsSingleQuoted, readPsStringArray } from '../../support/powershellQuotes';

const NOW = new Date('2026-12-02T02:00:00Z');
const base: SetupValues = {
  tenantId: '7a1c0de0-0000-4000-8000-00000000cafe',
  mailbox: 'relay@contoso.com',
  appName: 'Contoso relay',
  sendAs: ["o'brien@contoso.com", 'o’hara@contoso.com'],
};

/** The "replaces" label of every `step` line of the bash script. */
const unquoteWord = (word: string) => word.replace(/'([^']*)'|\\'/g, (_, part: string | undefined) => part ?? "'");
const bashSteps = (script: string) => [...script.matchAll(/^step ((?:'[^']*'|\\')+) ((?:'[^']*'|\\')+)$/gm)].map((match) => unquoteWord(match[2]!));
const psSteps = (script: string) => [...script.matchAll(/^ {2}Write-Step '[^']*' ('(?:[^']|'')*')$/gm)].map((match) => readPsSingleQuoted(match[1]!).value);

function at(text: string, pattern: string): number {
  const index = text.indexOf(pattern);
  assert.ok(index >= 0, `missing: ${pattern}`);
  return index;
}

const labels = (ids: SetupStepId[]) => ids.map(stepLabel);

test("the role ids setup cross-checks are Graph's documented ones, and the double's", () => {
  assert.equal(MICROSOFT_GRAPH_APP_ID, '00000003-0000-0000-c000-000000000000');
  assert.equal(MICROSOFT_GRAPH_APP_ID, GRAPH_APP);
  assert.deepEqual(GRAPH_APP_ROLE_IDS, GRAPH_ROLE_IDS);
});

describe('--transport graph, scoped by RBAC for Applications (the default)', () => {
  const values: SetupValues = { ...base, transport: 'graph', graphLargeMessages: true };
  const entra = entraScript(values, NOW);
  const exchange = exchangeScript(values, NOW);

  test('setup-entra.sh: no SMTP.SendAsApp, and no tenant-wide Graph consent: an existing one stops the script, since it would void the scope', () => {
    assert.deepEqual(
      bashSteps(entra),
      labels(['tenantId', 'enterpriseApplication', 'enterpriseApplication', 'graphPermission', 'clientSecret', 'oauthSettings']),
    );
    assert.doesNotMatch(entra, /SMTP\.SendAsApp/);
    assert.match(entra, /^graph_app='00000003-0000-0000-c000-000000000000' # Microsoft Graph$/m);
    assert.match(entra, /^for graph_role in 'Mail\.Send' 'Mail\.ReadWrite'; do$/m);
    // Looked up by value, never hard-coded.
    assert.match(entra, /az ad sp show --id "\$graph_app" --query "appRoles\[\?value=='\$graph_role'\]\.id \| \[0\]"/);
    assert.ok(at(entra, 'granted="$(az rest --method GET --url "$assignments"') < at(entra, 'RBAC for Applications adds to a consent, it cannot narrow it'));
    assert.doesNotMatch(entra, /--api "\$graph_app"|az rest --method POST/, 'nothing is consented tenant-wide');
    assert.match(entra, /settings\+=\('RELAY_TRANSPORT=graph'\)/);
    // The doctor then expects no Mail.Send role in the token, and fails one (a consent that opens every mailbox).
    assert.match(entra, /settings\+=\('GRAPH_PERMISSION_GRANT=rbac'\)/);
  });

  test('setup-exchange.ps1: the service principal and the scope only (no FullAccess, SendAs or Authenticated SMTP), checked with Test-ServicePrincipalAuthorization', () => {
    assert.deepEqual(psSteps(exchange), labels(['servicePrincipal', 'graphMailboxScope']));
    assert.doesNotMatch(exchange, /Add-MailboxPermission|Add-RecipientPermission|Set-CASMailbox/);
    assert.deepEqual(readPsStringArray(/^\$GraphAddresses = (.*)$/m.exec(exchange)![1]!), ['relay@contoso.com', ...base.sendAs!]);
    assert.deepEqual(readPsStringArray(/^\$GraphRoles = (.*)$/m.exec(exchange)![1]!), ['Application Mail.Send', 'Application Mail.ReadWrite']);
    assert.ok(
      at(exchange, 'Get-ManagementScope -Identity $ScopeName') < at(exchange, 'New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $Filter'),
    );
    assert.ok(
      at(exchange, 'Get-ManagementRoleAssignment -Identity $Name') <
        at(exchange, 'New-ManagementRoleAssignment -Name $Name -Role $Role -App $ObjectId -CustomResourceScope $ScopeName'),
    );
    assert.ok(at(exchange, 'New-ManagementRoleAssignment') < at(exchange, 'Test-ServicePrincipalAuthorization -Identity $ObjectId -Resource $Mailbox'));
    // The OPATH literal doubles every quote PowerShell reads as one, so an address cannot end it.
    assert.match(exchange, /-replace '\[''\\u2018-\\u201B\]', '\$0\$0'/);
  });

  test('without --graph-large-messages only Mail.Send (and Application Mail.Send) is asked for', () => {
    const small: SetupValues = { ...values, graphLargeMessages: undefined };
    assert.match(entraScript(small, NOW), /^for graph_role in 'Mail\.Send'; do$/m);
    assert.deepEqual(readPsStringArray(/^\$GraphRoles = (.*)$/m.exec(exchangeScript(small, NOW))![1]!), ['Application Mail.Send']);
  });
});

describe('--transport graph --graph-scope access-policy', () => {
  const values: SetupValues = { ...base, transport: 'graph', graphScope: 'access-policy', graphGroup: 'relay-senders@contoso.com' };
  const entra = entraScript(values, NOW);
  const exchange = exchangeScript(values, NOW);

  test('setup-entra.sh: Mail.Send requested and consented, each looked up first', () => {
    assert.ok(
      at(entra, `requested="$(az ad app show --id "$app_id" --query "length(requiredResourceAccess[?resourceAppId=='$graph_app']`) <
        at(entra, 'az ad app permission add --id "$app_id" --api "$graph_app" --api-permissions "$graph_role_id=Role"'),
    );
    assert.ok(at(entra, 'granted="$(az rest --method GET --url "$assignments"') < at(entra, 'az rest --method POST --url "$assignments"'));
    assert.match(entra, /\\"resourceId\\":\\"\$graph_sp\\",\\"appRoleId\\":\\"\$graph_role_id\\"/);
    assert.doesNotMatch(entra, /SMTP\.SendAsApp|UNSCOPED|EVERY mailbox/);
    assert.match(entra, /settings\+=\('GRAPH_PERMISSION_GRANT=entra'\)/);
  });

  test('setup-exchange.ps1: no service principal; the security group, its members, the RestrictAccess policy, Test-ApplicationAccessPolicy', () => {
    assert.deepEqual(psSteps(exchange), labels(['graphMailboxScope']));
    assert.doesNotMatch(exchange, /New-ServicePrincipal -AppId|New-ManagementRoleAssignment -Name|Test-ServicePrincipalAuthorization/);
    assert.equal(readPsSingleQuoted(/^\$GraphGroup = (.*)$/m.exec(exchange)![1]!).value, 'relay-senders@contoso.com');
    assert.ok(at(exchange, 'Get-DistributionGroup -Identity $GraphGroup') < at(exchange, 'New-DistributionGroup -Name "relay $AppId senders" -Type Security'));
    assert.ok(
      at(exchange, 'Get-DistributionGroupMember -Identity $GraphGroup') < at(exchange, 'Add-DistributionGroupMember -Identity $GraphGroup -Member $Address'),
    );
    assert.ok(
      at(exchange, 'Get-ApplicationAccessPolicy') <
        at(exchange, 'New-ApplicationAccessPolicy -AppId $AppId -PolicyScopeGroupId $GraphGroup -AccessRight RestrictAccess'),
    );
    assert.ok(at(exchange, 'New-ApplicationAccessPolicy') < at(exchange, 'Test-ApplicationAccessPolicy -Identity $Mailbox -AppId $AppId'));
  });
});

test('--graph-scope none: Mail.Send consented with a warning, and an Exchange script that connects to nothing', () => {
  const values: SetupValues = { ...base, transport: 'graph', graphScope: 'none' };
  assert.match(entraScript(values, NOW), /WARNING: unscoped, the app can send as EVERY mailbox of the tenant/);
  const exchange = exchangeScript(values, NOW);
  assert.deepEqual(psSteps(exchange), []);
  assert.ok(at(exchange, 'Nothing to do in Exchange Online') < at(exchange, 'exit 0'));
  assert.ok(at(exchange, 'exit 0') < at(exchange, 'Connect-ExchangeOnline'));
});

test('--transport smtp-then-graph: every SMTP step and the Graph steps beside them', () => {
  const values: SetupValues = { ...base, transport: 'smtp-then-graph' };
  assert.deepEqual(
    bashSteps(entraScript(values, NOW)),
    labels(['tenantId', 'enterpriseApplication', 'enterpriseApplication', 'apiPermission', 'graphPermission', 'clientSecret', 'oauthSettings']),
  );
  assert.deepEqual(psSteps(exchangeScript(values, NOW)), labels(['servicePrincipal', 'mailboxPermission', 'sendAs', 'graphMailboxScope', 'authenticatedSmtp']));
  assert.match(entraScript(values, NOW), /settings\+=\('RELAY_TRANSPORT=smtp-then-graph'\)/);
});

test('the SMTP transport is unchanged: no Graph step, no transport setting', () => {
  for (const values of [base, { ...base, transport: 'smtp' as const }]) {
    const entra = entraScript(values, NOW);
    assert.doesNotMatch(entra, /graph_app|graphPermission|RELAY_TRANSPORT/);
    assert.deepEqual(psSteps(exchangeScript(values, NOW)), labels(['servicePrincipal', 'mailboxPermission', 'sendAs', 'authenticatedSmtp']));
  }
});

test('the Graph options are checked: only for a Graph transport, the group only for (and needed by) the access policy', () => {
  const minimal = { tenantId: base.tenantId, mailbox: base.mailbox };
  assert.deepEqual(checkSetupValues({ ...minimal, transport: 'graph' }), []);
  assert.deepEqual(checkSetupValues({ ...minimal, transport: 'pigeon' as never }), ['--transport: one of smtp, graph, smtp-then-graph']);
  assert.deepEqual(checkSetupValues({ ...minimal, graphScope: 'rbac', graphLargeMessages: true }), [
    '--graph-scope: only the Graph transports use it (--transport graph or smtp-then-graph)',
    '--graph-large-messages: only the Graph transports use it (--transport graph or smtp-then-graph)',
  ]);
  assert.deepEqual(checkSetupValues({ ...minimal, transport: 'graph', graphScope: 'access-policy' }), [
    '--graph-scope access-policy: needs --graph-group (the mail-enabled security group the policy is scoped to)',
  ]);
  assert.match(
    checkSetupValues({ ...minimal, transport: 'graph', graphScope: 'access-policy', graphGroup: "x'; Remove-Mailbox" }).join(),
    /--graph-group: must be/,
  );
  assert.match(checkSetupValues({ ...minimal, transport: 'graph', graphGroup: 'g@contoso.com' }).join(), /--graph-group: only the access policy/);
  assert.match(checkSetupValues({ ...minimal, transport: 'graph', graphScope: 'wide' as never }).join(), /--graph-scope: one of rbac, access-policy, none/);
});

test('setup --transport graph prints the Graph permission, its scope and the guide steps a Graph-only sender skips', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-setup-graph-'));
  try {
    const out = join(dir, 'scripts');
    const io = { env: {}, stdout: '', stderr: '', out: (text: string) => (io.stdout += text), err: (text: string) => (io.stderr += text) };
    const args = ['setup', '--tenant-id', base.tenantId, '--mailbox', base.mailbox, '--transport', 'graph', '--graph-large-messages', '--out', out];
    assert.equal(await main(args, io), 0, io.stderr);
    assert.match(io.stdout, /Transport: graph\./);
    assert.match(io.stdout, /Microsoft Graph: Mail\.Send and Mail\.ReadWrite \(application\)\./);
    assert.match(io.stdout, /Scoped by RBAC for Applications: no tenant-wide consent in Entra/);
    const skipped = io.stdout.slice(at(io.stdout, 'A Graph-only sender skips these guide steps:'));
    for (const id of ['apiPermission', 'authenticatedSmtp', 'mailboxPermission', 'sendAs', 'emailServer'] as const)
      assert.ok(skipped.includes(stepLabel(id)), id);
    assert.match(readFileSync(join(out, 'setup-exchange.ps1'), 'utf8'), /Test-ServicePrincipalAuthorization/);
    const refused = { ...io, stdout: '', stderr: '' };
    refused.out = (text: string) => (refused.stdout += text);
    refused.err = (text: string) => (refused.stderr += text);
    assert.equal(await main(['setup', '--tenant-id', base.tenantId, '--mailbox', base.mailbox, '--graph-scope', 'rbac', '--out', out], refused), 2);
    assert.match(refused.stderr, /--graph-scope: only the Graph transports use it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("setup --sender takes a Graph sender's transport from the settings (RELAY_SENDERS' transport, RELAY_TRANSPORT)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-setup-graph-'));
  try {
    const env = {
      OAUTH2_TENANT_ID: base.tenantId,
      OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
      OAUTH2_CLIENT_SECRET: 'Zq8Q~unit-test-secret-value.0123456789',
      SMTP_USER: base.mailbox,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      RELAY_SENDERS: JSON.stringify([
        {
          id: 'billing',
          mailbox: 'billing@contoso.com',
          transport: 'graph',
          tenant: base.tenantId,
          clientId: '5e4d0000-0000-4000-8000-0000000000b2',
          credential: { secretSetting: 'OAUTH2_CLIENT_SECRET' },
        },
      ]),
    };
    for (const [sender, transport] of [
      ['billing', 'graph'],
      ['default', 'smtp-then-graph'],
    ] as const) {
      const out = join(dir, sender);
      const io = {
        env: { ...env, RELAY_TRANSPORT: 'smtp-then-graph' },
        stdout: '',
        stderr: '',
        out: (t: string) => (io.stdout += t),
        err: (t: string) => (io.stderr += t),
      };
      assert.equal(await main(['setup', '--sender', sender, '--out', out], io), 0, io.stderr);
      assert.match(io.stdout, new RegExp(`Transport: ${transport}\\.`));
      const entra = readFileSync(join(out, 'setup-entra.sh'), 'utf8');
      assert.match(entra, /^graph_app='00000003-0000-0000-c000-000000000000'/m);
      assert.equal(/SMTP\.SendAsApp/.test(entra), transport === 'smtp-then-graph', 'SMTP.SendAsApp only when the sender also uses SMTP');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
