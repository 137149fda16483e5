/** `oauth2-smtp-relay setup`: the guide's commands with the values filled in, printed only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../../src/app/cli';
import { checkSetupValues, setupScript } from '../../../src/cli/setup';

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
  now: new Date('2026-11-30T12:00:00Z'),
};

test('the Exchange Online PowerShell commands of the guide, with the enterprise application object id', () => {
  const script = setupScript(values);
  assert.match(script, /^Connect-ExchangeOnline -Organization '7a1c0de0-0000-4000-8000-00000000cafe'$/m);
  assert.match(script, /^New-ServicePrincipal -AppId '5e4d0000-0000-4000-8000-0000000000a1' -ObjectId '0b1ec700-0000-4000-8000-0000000000e1'/m);
  assert.match(script, /^Add-MailboxPermission -Identity 'relay@contoso\.com' -User '0b1ec700-0000-4000-8000-0000000000e1' -AccessRights FullAccess$/m);
  assert.match(script, /^Add-RecipientPermission -Identity 'noreply@contoso\.com' -Trustee '0b1ec700-[^']+' -AccessRights SendAs/m);
  // PowerShell quoting: a quote inside a single-quoted string is doubled.
  assert.match(script, /Add-RecipientPermission -Identity 'o''brien@contoso\.com'/);
  assert.match(script, /up to an hour/);
});

test('the Azure CLI commands: secret with an expiry, into Key Vault with the same expiry, readable by the app identity', () => {
  const script = setupScript(values);
  assert.match(script, /^expires='2027-02-28T12:00:00Z'$/m);
  assert.match(script, /az ad app credential reset --id '5e4d0000-0000-4000-8000-0000000000a1' --append .*--end-date "\$expires" --query password/);
  assert.match(script, /az keyvault secret set --vault-name 'kv-relay' --name 'smtp-secret' --value "\$secret" --expires "\$expires"/);
  assert.match(script, /az functionapp identity assign --name 'func-relay' --resource-group 'rg-relay'/);
  assert.match(script, /az role assignment create --assignee-object-id "\$principal" .*--role "Key Vault Secrets User" --scope "\$vault_id"/);
  assert.match(script, /appsettings set .*'KEYVAULT_URL=https:\/\/kv-relay\.vault\.azure\.net' 'OAUTH2_CLIENT_SECRET_NAME=smtp-secret'/);
  assert.match(script, /MAIL_ALLOWED_FROM=noreply@contoso\.com,o'brien@contoso\.com/);
});

test('the common mistakes are refused: the client id given as object id, a non-GUID, a bad mailbox', () => {
  const problems = checkSetupValues({ ...values, objectId: values.clientId, tenantId: 'not a tenant', mailbox: 'relay' });
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems.join('\n'), /--object-id: is the Application \(client\) ID/);
  assert.deepEqual(checkSetupValues(values), []);
});

test('the command prints the script and exits 0; missing or wrong values exit 2 with the reason', async () => {
  let out = '';
  let err = '';
  const io = { env: {}, out: (text: string) => (out += text), err: (text: string) => (err += text) };
  const args = ['setup', '--tenant-id', values.tenantId, '--client-id', values.clientId, '--object-id', values.objectId, '--mailbox', values.mailbox];
  assert.equal(await main(args, io), 0);
  assert.match(out, /New-ServicePrincipal/);
  assert.match(out, /<key-vault-name>/, 'placeholders where no value was given');
  assert.equal(await main(['setup', '--tenant-id', values.tenantId], io), 2);
  assert.match(err, /missing --client-id, --object-id, --mailbox/);
  assert.equal(await main([...args.slice(0, 6), values.clientId, '--mailbox', values.mailbox], io), 2);
  assert.match(err, /--object-id: is the Application \(client\) ID/);
});
