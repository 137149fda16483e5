/**
 * `oauth2-smtp-relay setup`: prints, with the values filled in, the Exchange
 * Online PowerShell commands of the setup guide (service principal, mailbox
 * permission, SendAs for extra senders) and the Azure CLI commands that put a
 * client secret with an expiry in Key Vault and let the Function App's identity
 * read it. It only prints; it changes nothing.
 */
import { describeSettings } from '../settings';
import { echoSetting } from '../core/echo';
import { isEmailAddress } from '../message/address';

export interface SetupValues {
  tenantId: string;
  clientId: string;
  /** Object ID of the Enterprise application (service principal), not of the app registration. */
  objectId: string;
  mailbox: string;
  /** Other From addresses the app may send as. */
  sendAs?: string[];
  keyVault?: string;
  secretName?: string;
  functionApp?: string;
  resourceGroup?: string;
  /** Lifetime of the new client secret, in days. */
  secretDays?: number;
  now?: Date;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
const AZURE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const RESOURCE_GROUP = /^[-\w.()]{1,90}$/;

/** Every problem with the values, as "option: problem". */
export function checkSetupValues(values: SetupValues): string[] {
  const problems: string[] = [];
  if (!GUID.test(values.tenantId) && !DOMAIN.test(values.tenantId)) problems.push('--tenant-id: must be the Directory (tenant) ID (a GUID) or a domain');
  if (!GUID.test(values.clientId)) problems.push('--client-id: must be the Application (client) ID, a GUID');
  if (!GUID.test(values.objectId)) problems.push("--object-id: must be the Enterprise application's Object ID, a GUID");
  else if (values.objectId.toLowerCase() === values.clientId.toLowerCase()) {
    problems.push("--object-id: is the Application (client) ID; give the Object ID shown on the Enterprise application's Overview");
  }
  if (!isEmailAddress(values.mailbox)) problems.push('--mailbox: must be the authorized mailbox, e.g. relay@contoso.com');
  for (const address of values.sendAs ?? []) if (!isEmailAddress(address)) problems.push(`--send-as: ${echoSetting(address)} is not an e-mail address`);
  if (values.keyVault !== undefined && !/^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/.test(values.keyVault)) {
    problems.push('--key-vault: must be a Key Vault name (3 to 24 letters, digits and hyphens)');
  }
  if (values.secretName !== undefined && !/^[A-Za-z0-9-]{1,127}$/.test(values.secretName)) problems.push('--secret-name: letters, digits and hyphens only');
  if (values.functionApp !== undefined && !AZURE_NAME.test(values.functionApp)) problems.push('--function-app: not a Function App name');
  if (values.resourceGroup !== undefined && !RESOURCE_GROUP.test(values.resourceGroup)) problems.push('--resource-group: not a resource group name');
  if (values.secretDays !== undefined && !(Number.isInteger(values.secretDays) && values.secretDays >= 1 && values.secretDays <= 730)) {
    problems.push('--secret-days: a whole number of days from 1 to 730');
  }
  return problems;
}

/** PowerShell single-quoted string (a quote is doubled). */
const ps = (value: string) => `'${value.replace(/'/g, "''")}'`;
/** POSIX shell single-quoted string. */
const sh = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export function setupScript(values: SetupValues): string {
  const now = values.now ?? new Date();
  const days = values.secretDays ?? 180;
  const expires = new Date(now.getTime() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const vault = values.keyVault ?? '<key-vault-name>';
  const secretName = values.secretName ?? 'smtp-relay-client-secret';
  const app = values.functionApp ?? '<function-app-name>';
  const group = values.resourceGroup ?? '<resource-group>';

  const lines = [
    '# 1. Exchange Online PowerShell (run as an Exchange administrator)',
    '#    Register the app with Exchange, then let it use the mailbox.',
    'Install-Module -Name ExchangeOnlineManagement -Scope CurrentUser',
    'Import-Module ExchangeOnlineManagement',
    `Connect-ExchangeOnline -Organization ${ps(values.tenantId)}`,
    `New-ServicePrincipal -AppId ${ps(values.clientId)} -ObjectId ${ps(values.objectId)} -DisplayName 'oauth2-smtp-relay'`,
    `Add-MailboxPermission -Identity ${ps(values.mailbox)} -User ${ps(values.objectId)} -AccessRights FullAccess`,
    ...(values.sendAs ?? []).map(
      (address) => `Add-RecipientPermission -Identity ${ps(address)} -Trustee ${ps(values.objectId)} -AccessRights SendAs -Confirm:$false`,
    ),
    `Get-ServicePrincipal -Identity ${ps(values.objectId)} | Format-List AppId, ObjectId, DisplayName`,
    'Disconnect-ExchangeOnline -Confirm:$false',
    '#    Exchange can take up to an hour to apply these; run the doctor afterwards.',
    '',
    '# 2. Azure CLI (bash): a client secret that expires, stored in Key Vault with the same expiry,',
    "#    readable by the Function App's managed identity. The secret's value never appears on screen.",
    `expires=${sh(expires)}`,
    `secret="$(az ad app credential reset --id ${sh(values.clientId)} --append --display-name 'oauth2-smtp-relay' --end-date "$expires" --query password --output tsv)"`,
    `az keyvault secret set --vault-name ${sh(vault)} --name ${sh(secretName)} --value "$secret" --expires "$expires" --output none`,
    'unset secret',
    `principal="$(az functionapp identity assign --name ${sh(app)} --resource-group ${sh(group)} --query principalId --output tsv)"`,
    `vault_id="$(az keyvault show --name ${sh(vault)} --query id --output tsv)"`,
    'az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User" --scope "$vault_id"',
    `az functionapp config appsettings set --name ${sh(app)} --resource-group ${sh(group)} --settings ${secretSettings(vault, secretName).map(sh).join(' ')}`,
    '',
    '# 3. Relay settings for this mailbox and app',
    `#    OAUTH2_TENANT_ID=${values.tenantId}`,
    `#    OAUTH2_CLIENT_ID=${values.clientId}`,
    `#    SMTP_USER=${values.mailbox}`,
    ...(values.sendAs?.length ? [`#    MAIL_ALLOWED_FROM=${values.sendAs.join(',')}`] : []),
  ];
  return lines.join('\n') + '\n';
}

/** How the relay is told where the secret is: its own Key Vault settings when it has them, else a Key Vault reference. */
function secretSettings(vault: string, secretName: string): string[] {
  const names = new Set(describeSettings().map((setting) => setting.name));
  const vaultUrl = `https://${vault}.vault.azure.net`;
  if (names.has('KEYVAULT_URL') && names.has('OAUTH2_CLIENT_SECRET_NAME')) {
    return [`KEYVAULT_URL=${vaultUrl}`, `OAUTH2_CLIENT_SECRET_NAME=${secretName}`];
  }
  return [`OAUTH2_CLIENT_SECRET=@Microsoft.KeyVault(SecretUri=${vaultUrl}/secrets/${secretName}/)`];
}
