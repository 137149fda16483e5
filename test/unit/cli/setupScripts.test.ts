/**
 * The two scripts `setup` writes, for each mode: every guide step with the given
 * values, each step naming the guide step it replaces, a lookup before every
 * create, and no path by which the client secret reaches the screen, a file or
 * a command line. (test/integration/cli/setupScripts.test.ts runs them.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entraScript, EXCHANGE_ONLINE_APP_ID } from '../../../src/cli/setupEntraScript';
import { exchangeScript } from '../../../src/cli/setupExchangeScript';
import type { SetupMode, SetupValues } from '../../../src/cli/setupValues';
import { stepLabel, type SetupStepId } from '../../../src/core/setupSteps';
import { readPsSingleQuoted, readPsStringArray } from '../../support/powershellQuotes';

const NOW = new Date('2026-11-30T12:00:00Z');
const base: SetupValues = {
  tenantId: '7a1c0de0-0000-4000-8000-00000000cafe',
  mailbox: 'relay@contoso.com',
  appName: 'Contoso relay',
  sendAs: ['noreply@contoso.com', "o'brien@contoso.com", 'o’hara@contoso.com'],
  functionApp: 'func-relay',
  resourceGroup: 'rg-relay',
};
const MODES: Record<SetupMode, SetupValues> = {
  secret: { ...base, mode: 'secret' },
  keyvault: { ...base, mode: 'keyvault', keyVault: 'kv-relay', secretName: 'smtp-secret', secretDays: 90 },
  federation: { ...base, mode: 'federation', identityPrincipalId: '1d000000-0000-4000-8000-0000000000aa' },
  certificate: { ...base, mode: 'certificate', keyVault: 'kv-relay', certificateName: 'relay-cert' },
};

/** A bash word made of single-quoted parts and \\' (what shQuote writes), unquoted. */
const unquoteWord = (word: string) => word.replace(/'([^']*)'|\\'/g, (_, part: string | undefined) => part ?? "'");

/** The "replaces" label of every `step` line of the bash script. */
function bashSteps(script: string): string[] {
  return [...script.matchAll(/^step ((?:'[^']*'|\\')+) ((?:'[^']*'|\\')+)$/gm)].map((match) => unquoteWord(match[2]!));
}

const ENTRA_STEPS: Record<SetupMode, SetupStepId[]> = {
  secret: ['tenantId', 'enterpriseApplication', 'enterpriseApplication', 'apiPermission', 'clientSecret', 'oauthSettings'],
  keyvault: ['tenantId', 'enterpriseApplication', 'enterpriseApplication', 'apiPermission', 'keyVault', 'clientSecret', 'keyVault', 'oauthSettings'],
  federation: ['tenantId', 'enterpriseApplication', 'enterpriseApplication', 'apiPermission', 'clientSecret', 'clientSecret', 'oauthSettings'],
  certificate: [
    'tenantId',
    'enterpriseApplication',
    'enterpriseApplication',
    'apiPermission',
    'clientCertificate',
    'clientCertificate',
    'clientCertificate',
    'clientCertificate',
    'oauthSettings',
  ],
};

/** Index of `pattern` in `text`, failing when absent. */
function at(text: string, pattern: string | RegExp): number {
  const index = typeof pattern === 'string' ? text.indexOf(pattern) : text.search(pattern);
  assert.ok(index >= 0, `missing: ${String(pattern)}`);
  return index;
}

for (const mode of Object.keys(MODES) as SetupMode[]) {
  describe(`the ${mode} mode`, () => {
    const values = MODES[mode];
    const entra = entraScript(values, NOW);
    const exchange = exchangeScript(values, NOW);

    test('setup-entra.sh: strict bash, the values as quoted assignments, each step naming the guide step it replaces', () => {
      assert.match(entra, /^#!\/usr\/bin\/env bash\n/);
      assert.match(entra, /^set -euo pipefail$/m);
      assert.doesNotMatch(entra, /set -x|set -o xtrace/);
      assert.match(entra, /^tenant='7a1c0de0-0000-4000-8000-00000000cafe'$/m);
      assert.match(entra, /^app_name='Contoso relay'$/m);
      assert.match(entra, /^app_name_filter=''\\''Contoso relay'\\'''$/m);
      assert.match(entra, /^mailbox='relay@contoso\.com'$/m);
      assert.match(entra, /^allowed_from='noreply@contoso\.com,o'\\''brien@contoso\.com,o’hara@contoso\.com'$/m);
      assert.match(entra, /^function_app='func-relay'$/m);
      assert.match(entra, /^resource_group='rg-relay'$/m);
      assert.deepEqual(
        bashSteps(entra),
        ENTRA_STEPS[mode].map((id) => stepLabel(id) + (mode === 'federation' && id === 'clientSecret' ? ' (not needed: no secret)' : '')),
      );
    });

    test('setup-entra.sh: app registration, enterprise application and SMTP.SendAsApp with admin consent, each looked up first', () => {
      assert.ok(at(entra, 'az ad app list --filter "displayName eq $app_name_filter"') < at(entra, 'az ad app create --display-name "$app_name"'));
      assert.ok(at(entra, `az ad sp list --filter "appId eq '$app_id'"`) < at(entra, 'az ad sp create --id "$app_id"'));
      assert.match(entra, new RegExp(`^exchange_app='${EXCHANGE_ONLINE_APP_ID}'`, 'm'));
      // The role id is looked up by value on Exchange Online's service principal, never hard-coded.
      assert.match(entra, /az ad sp show --id "\$exchange_app" --query "appRoles\[\?value=='SMTP\.SendAsApp'\]\.id \| \[0\]"/);
      assert.ok(
        at(entra, /requested="\$\(az ad app show --id "\$app_id" --query "length\(requiredResourceAccess/) < at(entra, '--api-permissions "$role_id=Role"'),
      );
      assert.ok(at(entra, 'granted="$(az rest --method GET --url "$assignments"') < at(entra, 'az rest --method POST --url "$assignments"'));
      // The Object ID is captured and handed to the Exchange script in the exact invocation.
      assert.match(entra, /printf " {2}pwsh -File \.\/setup-exchange\.ps1 -AppId '%s' -ObjectId '%s'\\n" "\$app_id" "\$sp_id"/);
      // An existing managed identity is found, never created (azd's user-assigned one).
      assert.doesNotMatch(entra, /identity assign/);
      if (mode !== 'secret') {
        assert.match(
          entra,
          /az functionapp identity show --name "\$function_app" --resource-group "\$resource_group" --query 'userAssignedIdentities\.\*\.\[principalId, clientId\]'/,
        );
      }
    });

    test('setup-exchange.ps1: connect, service principal, FullAccess, SendAs, Authenticated SMTP, disconnect in finally; each looked up first', () => {
      assert.match(exchange, /^param\(\n {2}\[string\] \$AppId = '',\n {2}\[string\] \$ObjectId = ''\n\)$/m);
      assert.match(exchange, /^\$ErrorActionPreference = 'Stop'$/m);
      assert.equal(readPsSingleQuoted(/^\$Mailbox = (.*)$/m.exec(exchange)![1]!).value, 'relay@contoso.com');
      assert.deepEqual(readPsStringArray(/^\$SendAs = (.*)$/m.exec(exchange)![1]!), base.sendAs);
      assert.ok(at(exchange, 'Connect-ExchangeOnline') < at(exchange, 'try {'));
      assert.ok(at(exchange, 'Get-ServicePrincipal |') < at(exchange, 'New-ServicePrincipal -AppId $AppId -ObjectId $ObjectId -DisplayName $DisplayName'));
      assert.ok(
        at(exchange, 'Get-MailboxPermission -Identity $Mailbox -User $ObjectId') <
          at(exchange, 'Add-MailboxPermission -Identity $Mailbox -User $ObjectId -AccessRights FullAccess'),
      );
      assert.ok(
        at(exchange, 'Get-RecipientPermission -Identity $Address -Trustee $ObjectId') <
          at(exchange, 'Add-RecipientPermission -Identity $Address -Trustee $ObjectId -AccessRights SendAs'),
      );
      assert.ok(at(exchange, 'Get-CASMailbox -Identity $Mailbox') < at(exchange, 'Set-CASMailbox -Identity $Mailbox -SmtpClientAuthenticationDisabled $false'));
      assert.match(exchange, /\} finally \{\n {2}Disconnect-ExchangeOnline -Confirm:\$false\n\}/);
      const labels = [...exchange.matchAll(/^ {2}Write-Step '[^']*' ('(?:[^']|'')*')$/gm)].map((match) => readPsSingleQuoted(match[1]!).value);
      assert.deepEqual(labels, (['servicePrincipal', 'mailboxPermission', 'sendAs', 'authenticatedSmtp'] as const).map(stepLabel));
    });

    test('no secret in either script, and no way for one to be printed, stored in a file or put on a command line', () => {
      for (const script of [entra, exchange]) {
        assert.doesNotMatch(script, /Zq8Q~|--value|\$\{?secret\b|password=|OAUTH2_CLIENT_SECRET=/i);
      }
      // A new secret only ever leaves `az ad app credential reset` through a pipe into its store.
      const resets = [...entra.matchAll(/az ad app credential reset[^\n]*\\\n([^\n]*\\\n)*[^\n]*/g)].map((match) => match[0]);
      if (mode === 'certificate') {
        assert.equal(resets.length, 0, 'no client secret is piped anywhere');
        assert.doesNotMatch(entra, /--query password|--end-date|OAUTH2_CLIENT_SECRET_NAME=/);
        return;
      }
      if (mode === 'federation') {
        assert.equal(resets.length, 0, 'federation creates no client secret');
        assert.match(entra, /az ad app federated-credential create --id "\$app_id"/);
        assert.match(entra, /\\"issuer\\":\\"\$issuer\\",\\"subject\\":\\"\$identity_principal\\",\\"audiences\\":\[\\"api:\/\/AzureADTokenExchange\\"\]/);
        assert.match(entra, /^issuer="https:\/\/login\.microsoftonline\.com\/\$tenant_id\/v2\.0"$/m);
        assert.ok(at(entra, 'present="$(az ad app federated-credential list --id "$app_id"') < at(entra, 'federated-credential create'));
        assert.match(entra, /^identity_principal='1d000000-0000-4000-8000-0000000000aa'$/m);
        assert.match(entra, /OAUTH2_AUTH_MODE=managed-identity-federation/);
        return;
      }
      assert.equal(resets.length, 1);
      assert.match(resets[0]!, /--append .*--end-date "\$expires"/);
      assert.match(resets[0]!, /\n\s+\| /, 'piped');
      assert.doesNotMatch(entra, /=\s*"\$\(az ad app credential reset/, 'never captured in a variable');
      if (mode === 'keyvault') {
        assert.match(
          resets[0]!,
          /--query password --output tsv \\\n\s+\| tr -d '\\r\\n' \\\n\s+\| az keyvault secret set --vault-name "\$key_vault" --name "\$secret_name" --file \/dev\/stdin --expires "\$expires"/,
        );
        assert.ok(at(entra, 'az keyvault secret list --vault-name "$key_vault"') < at(entra, 'az ad app credential reset'));
        assert.ok(at(entra, 'az role assignment list --assignee "$identity_principal"') < at(entra, 'az role assignment create'));
        assert.match(entra, /^key_vault='kv-relay'$/m);
        assert.match(entra, /^secret_name='smtp-secret'$/m);
        assert.match(entra, /^secret_days='90'$/m);
        assert.match(entra, /"KEYVAULT_URL=https:\/\/\$key_vault\.vault\.azure\.net" "OAUTH2_CLIENT_SECRET_NAME=\$secret_name"/);
      } else {
        assert.match(
          resets[0]!,
          /--query '\{OAUTH2_CLIENT_SECRET: password\}' --output json \\\n\s+\| az functionapp config appsettings set .*--settings @\/dev\/stdin/,
        );
        assert.ok(at(entra, `--query "length([?name=='OAUTH2_CLIENT_SECRET'])"`) < at(entra, 'az ad app credential reset'));
        assert.doesNotMatch(entra, /az keyvault|functionapp identity/);
      }
    });
  });
}

test('without --function-app: the secret mode says where the Value goes without creating one; the app is found by --client-id', () => {
  const values: SetupValues = { tenantId: 'contoso.onmicrosoft.com', mailbox: 'relay@contoso.com', clientId: '5e4d0000-0000-4000-8000-0000000000a1' };
  const entra = entraScript(values, NOW);
  assert.doesNotMatch(entra, /credential reset/);
  assert.match(entra, /paste its Value \(not its Secret ID\) into OAUTH2_CLIENT_SECRET/);
  assert.match(entra, /^client_id='5e4d0000-0000-4000-8000-0000000000a1'$/m);
  // A tenant given as a domain is checked against the signed-in tenant's domains.
  assert.match(entra, /domains' --query 'value\[\]\.id' --output tsv \| grep -Fix -- "\$tenant"/);
  assert.doesNotMatch(entra, /functionapp identity show/);
  const exchange = exchangeScript({ ...values, objectId: '0b1ec700-0000-4000-8000-0000000000e1' }, NOW);
  assert.match(exchange, /\$AppId = '5e4d0000-0000-4000-8000-0000000000a1',\n {2}\[string\] \$ObjectId = '0b1ec700-0000-4000-8000-0000000000e1'/);
  assert.doesNotMatch(exchange, /RecipientPermission/, 'no SendAs step without --send-as');
  assert.match(exchange, /^\$SendAs = @\(\)$/m);
});

describe('the certificate mode: the certificate made in Key Vault, uploaded once per version, readable by the identity', () => {
  const entra = entraScript(MODES.certificate, NOW);

  test('the certificate name and the PEM policy are quoted assignments; the policy is the one the relay can read', () => {
    assert.match(entra, /^key_vault='kv-relay'$/m);
    assert.match(entra, /^certificate_name='relay-cert'$/m);
    const policy = JSON.parse(unquoteWord(/^certificate_policy=(.*)$/m.exec(entra)![1]!)) as {
      secretProperties: { contentType: string };
      keyProperties: { exportable: boolean; keyType: string };
      x509CertificateProperties: { subject: string; ekus: string[] };
      lifetimeActions: { action: { actionType: string } }[];
    };
    assert.equal(policy.secretProperties.contentType, 'application/x-pem-file', 'PEM: Node.js cannot read PKCS#12');
    assert.equal(policy.keyProperties.exportable, true, 'the private key is readable through the secret');
    assert.equal(policy.x509CertificateProperties.subject, 'CN=relay-cert');
    assert.deepEqual(policy.x509CertificateProperties.ekus, ['1.3.6.1.5.5.7.3.2'], 'client authentication');
    assert.equal(policy.lifetimeActions[0]!.action.actionType, 'AutoRenew');
    assert.match(entraScript({ ...MODES.certificate, certificateName: undefined }, NOW), /^certificate_name='smtp-relay-client-certificate'$/m);
  });

  test('the certificate is created only when the vault has none of that name, and an existing one must be PEM', () => {
    assert.ok(
      at(entra, `az keyvault certificate list --vault-name "$key_vault" --query "length([?name=='$certificate_name'])"`) <
        at(entra, 'az keyvault certificate create --vault-name "$key_vault" --name "$certificate_name" --policy "$certificate_policy" --output none'),
    );
    assert.match(entra, /--query 'policy\.secretProperties\.contentType' --output tsv\)"\n {2}\[\[ \$content_type == 'application\/x-pem-file' \]\] \|\| stop/);
  });

  test('the public part is uploaded with --append only when no certificate credential of the app has its thumbprint', () => {
    assert.match(
      entra,
      /thumbprint="\$\(az keyvault certificate show --vault-name "\$key_vault" --name "\$certificate_name" --query x509ThumbprintHex --output tsv\)"/,
    );
    assert.ok(
      at(entra, `registered="$(az ad app credential list --id "$app_id" --cert --query '[].customKeyIdentifier' --output tsv)"`) <
        at(entra, 'az ad app credential reset --id "$app_id" --keyvault "$key_vault" --cert "$certificate_name" --append --output none'),
    );
    assert.match(entra, /grep -Fix -e "\$thumbprint" -e "\$thumbprint_base64"/);
  });

  test('the identity gets Key Vault Secrets User (the key is read through the secret) and the settings name the certificate', () => {
    assert.ok(
      at(entra, 'az role assignment list --assignee "$identity_principal"') < at(entra, 'az role assignment create --assignee-object-id "$identity_principal"'),
    );
    assert.match(entra, /--role 'Key Vault Secrets User' --scope "\$vault_id"/);
    assert.match(
      entra,
      /settings\+=\("OAUTH2_AUTH_MODE=certificate" "KEYVAULT_URL=https:\/\/\$key_vault\.vault\.azure\.net" "OAUTH2_CLIENT_CERTIFICATE_NAME=\$certificate_name"\)/,
    );
  });
});
