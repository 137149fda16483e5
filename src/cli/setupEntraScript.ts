/**
 * setup-entra.sh: the Microsoft Entra steps of the setup guide in bash with the
 * Azure CLI. Every value given to `setup` appears once, as a single-quoted
 * assignment at the top; the steps only use those variables and what az
 * returns (checked to be GUIDs before use). Each step looks before it creates,
 * so running the script again changes nothing that is already in place.
 */
import { stepLabel, type SetupStepId } from '../core/setupSteps';
import { graphScopeOf, modeOf, SCRIPT_NAMES, SETUP_DEFAULTS, transportOf, usesSmtp, type GraphScope, type SetupMode, type SetupValues } from './setupValues';
import { graphEntraSteps, graphEntraVariables, TRANSPORT_SETTING } from './setupGraph';
import { odataString, shQuote as sh } from './setupQuoting';

/** Office 365 Exchange Online, the API that offers SMTP.SendAsApp (the same appId in every tenant). */
export const EXCHANGE_ONLINE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
/** The audience Microsoft Entra requires of a federated credential's token. */
export const FEDERATION_AUDIENCE = 'api://AzureADTokenExchange';

/** `step <what it does> <the guide step it replaces>`. */
const step = (what: string, replaces: SetupStepId, note = '') => `step ${sh(what)} ${sh(stepLabel(replaces) + note)}`;
const IDENTITY = "Find the Function App's managed identity (none is created)";
const NO_SECRET = ' (not needed: no secret)';
/** The guide step the managed identity is looked up for, by mode. */
const IDENTITY_STEP = { keyvault: 'keyVault', federation: 'clientSecret', certificate: 'clientCertificate' } as const;

/** The client credential's steps: a secret (in Key Vault or an app setting), a federated credential, or a certificate. */
function credential(mode: SetupMode, hasFunctionApp: boolean): string[] {
  switch (mode) {
    case 'keyvault':
      return keyVaultSecret();
    case 'secret':
      return settingSecret(hasFunctionApp);
    case 'federation':
      return federatedCredential();
    case 'certificate':
      return clientCertificate();
  }
}

/**
 * The Key Vault certificate policy of the certificate mode: self-signed, exportable,
 * its secret as PEM (the relay reads the private key through the secret of the same
 * name, and Node.js cannot read PKCS#12 without an extra library), client
 * authentication, renewed by Key Vault at 80% of its 12 months.
 */
export function certificatePolicy(certificateName: string) {
  return {
    issuerParameters: { name: 'Self' },
    keyProperties: { exportable: true, keyType: 'RSA', keySize: 2048, reuseKey: false },
    secretProperties: { contentType: PEM_CONTENT_TYPE },
    x509CertificateProperties: {
      subject: `CN=${certificateName}`,
      keyUsage: ['digitalSignature'],
      ekus: ['1.3.6.1.5.5.7.3.2'],
      validityInMonths: 12,
    },
    lifetimeActions: [{ trigger: { lifetimePercentage: 80 }, action: { actionType: 'AutoRenew' } }],
  };
}
export const PEM_CONTENT_TYPE = 'application/x-pem-file';

export function entraScript(values: SetupValues, now: Date): string {
  const mode = modeOf(values);
  const appName = values.appName ?? SETUP_DEFAULTS.appName;
  const relayAddresses = [values.mailbox, ...(values.sendAs ?? [])];
  const lines = [
    '#!/usr/bin/env bash',
    '# oauth2-smtp-relay setup: the Microsoft Entra steps of the setup guide, with the Azure CLI.',
    `# Written by \`oauth2-smtp-relay setup\` on ${now.toISOString()} for the ${mode} mode.`,
    '# Run it with az signed in to the tenant as an administrator who can grant admin consent',
    '# (az login --tenant <tenant> --allow-no-subscriptions). Safe to run again: each step looks',
    '# before it creates. It never prints a secret or writes one to a file.',
    'set -euo pipefail',
    '',
    '# The values given to `oauth2-smtp-relay setup`.',
    `tenant=${sh(values.tenantId)}`,
    `app_name=${sh(appName)}`,
    `app_name_filter=${sh(odataString(appName))}`,
    `client_id=${sh(values.clientId ?? '')}`,
    `object_id=${sh(values.objectId ?? '')}`,
    `mailbox=${sh(values.mailbox)}`,
    `allowed_from=${sh(relayAddresses.slice(1).join(','))}`,
    `key_vault=${sh(values.keyVault ?? '')}`,
    `secret_name=${sh(values.secretName ?? SETUP_DEFAULTS.secretName)}`,
    `secret_days=${sh(String(values.secretDays ?? SETUP_DEFAULTS.secretDays))}`,
    ...(mode === 'certificate'
      ? [
          `certificate_name=${sh(values.certificateName ?? SETUP_DEFAULTS.certificateName)}`,
          `certificate_policy=${sh(JSON.stringify(certificatePolicy(values.certificateName ?? SETUP_DEFAULTS.certificateName)))}`,
        ]
      : []),
    `function_app=${sh(values.functionApp ?? '')}`,
    `resource_group=${sh(values.resourceGroup ?? '')}`,
    `identity_principal=${sh(values.identityPrincipalId ?? '')}`,
    'identity_client=',
    '',
    `exchange_app=${sh(EXCHANGE_ONLINE_APP_ID)} # Office 365 Exchange Online`,
    ...graphEntraVariables(values),
    "guid='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'",
    'script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    '',
    'step() { printf \'\\n==> %s\\n    (replaces %s)\\n\' "$1" "$2"; }',
    'say() { printf \'    %s\\n\' "$*"; }',
    `stop() { printf '${SCRIPT_NAMES.entra} stopped: %s\\n' "$*" >&2; exit 1; }`,
    'is_guid() { [[ $1 =~ $guid ]]; }',
    "lower() { printf '%s' \"$1\" | tr '[:upper:]' '[:lower:]'; }",
    '# How many non-empty lines (az prints one id a line with --output tsv).',
    'count_lines() { printf \'%s\\n\' "$1" | grep -c . || true; }',
    '',
    ...signIn(),
    ...appRegistration(),
    ...servicePrincipal(),
    // A Graph-only sender needs no SMTP.SendAsApp; a Graph sender needs Graph's Mail.Send (or its scoped Exchange role).
    ...(usesSmtp(values) ? permission() : []),
    ...graphEntraSteps(values),
    // The identity matters to the vault's role and to the federated credential; the secret mode has neither.
    ...(values.functionApp !== undefined && mode !== 'secret' ? appIdentity(step(IDENTITY, IDENTITY_STEP[mode], mode === 'federation' ? NO_SECRET : '')) : []),
    ...credential(mode, values.functionApp !== undefined),
    ...relaySettings(mode, transportOf(values), graphScopeOf(values)),
    ...nextStep(),
  ];
  return lines.join('\n') + '\n';
}

function signIn(): string[] {
  return [
    step('Check that az is signed in to the tenant', 'tenantId'),
    'tenant_id="$(az account show --query tenantId --output tsv)" || stop "az is not signed in: run az login --tenant $tenant --allow-no-subscriptions"',
    'if is_guid "$tenant"; then',
    '  [[ "$(lower "$tenant_id")" == "$(lower "$tenant")" ]] || stop "az is signed in to tenant $tenant_id, not $tenant: run az login --tenant $tenant"',
    'else',
    "  az rest --method GET --url 'https://graph.microsoft.com/v1.0/domains' --query 'value[].id' --output tsv | grep -Fix -- \"$tenant\" >/dev/null \\",
    '    || stop "the signed-in tenant $tenant_id has no domain $tenant: run az login --tenant $tenant"',
    'fi',
    'say "signed in to tenant $tenant_id"',
    '',
  ];
}

function appRegistration(): string[] {
  return [
    step('App registration: find it by Application ID or display name, or create it', 'enterpriseApplication'),
    'if [[ -n $client_id ]]; then',
    '  app_id="$(az ad app show --id "$client_id" --query appId --output tsv)" || stop "no app registration has the Application (client) ID $client_id"',
    '  say "found app registration $app_id"',
    'else',
    '  found="$(az ad app list --filter "displayName eq $app_name_filter" --query \'[].appId\' --output tsv)"',
    '  case "$(count_lines "$found")" in',
    '    0)',
    '      app_id="$(az ad app create --display-name "$app_name" --sign-in-audience AzureADMyOrg --query appId --output tsv)"',
    '      say "created app registration $app_id ($app_name)" ;;',
    '    1)',
    '      app_id="$found"',
    '      say "found app registration $app_id ($app_name)" ;;',
    '    *) stop "several app registrations are called $app_name: run oauth2-smtp-relay setup again with --client-id <the one to use>" ;;',
    '  esac',
    'fi',
    'is_guid "$app_id" || stop "az returned no Application (client) ID"',
    '',
  ];
}

function servicePrincipal(): string[] {
  return [
    step('Enterprise application (service principal) of the app, and its Object ID', 'enterpriseApplication'),
    'sp_id="$(az ad sp list --filter "appId eq \'$app_id\'" --query \'[0].id\' --output tsv)"',
    'if [[ -z $sp_id ]]; then',
    '  sp_id="$(az ad sp create --id "$app_id" --query id --output tsv)"',
    '  say "created the enterprise application: Object ID $sp_id"',
    'else',
    '  say "found the enterprise application: Object ID $sp_id"',
    'fi',
    'is_guid "$sp_id" || stop "az returned no Object ID for the enterprise application"',
    'if [[ -n $object_id && "$(lower "$object_id")" != "$(lower "$sp_id")" ]]; then',
    '  say "note: --object-id $object_id is not this enterprise application; Exchange needs $sp_id (printed at the end)"',
    'fi',
    '',
  ];
}

function permission(): string[] {
  return [
    step('Application permission SMTP.SendAsApp of Office 365 Exchange Online, with admin consent', 'apiPermission'),
    'exchange_sp="$(az ad sp list --filter "appId eq \'$exchange_app\'" --query \'[0].id\' --output tsv)"',
    'is_guid "$exchange_sp" || stop "Office 365 Exchange Online has no service principal in this tenant: the tenant needs Exchange Online"',
    '# The role id is looked up by its value, not copied from a page.',
    'role_id="$(az ad sp show --id "$exchange_app" --query "appRoles[?value==\'SMTP.SendAsApp\'].id | [0]" --output tsv)"',
    'is_guid "$role_id" || stop "Office 365 Exchange Online offers no SMTP.SendAsApp application permission in this tenant"',
    'requested="$(az ad app show --id "$app_id" --query "length(requiredResourceAccess[?resourceAppId==\'$exchange_app\'].resourceAccess[] | [?id==\'$role_id\'])" --output tsv)"',
    'if [[ $requested == 0 ]]; then',
    '  az ad app permission add --id "$app_id" --api "$exchange_app" --api-permissions "$role_id=Role" --only-show-errors --output none',
    '  say "added SMTP.SendAsApp ($role_id) to the app\'s API permissions"',
    'else',
    '  say "SMTP.SendAsApp is already among the app\'s API permissions"',
    'fi',
    '# Admin consent to an application permission is an app role assignment on the service principal.',
    'assignments="https://graph.microsoft.com/v1.0/servicePrincipals/$sp_id/appRoleAssignments"',
    'granted="$(az rest --method GET --url "$assignments" --query "length(value[?appRoleId==\'$role_id\' && resourceId==\'$exchange_sp\'])" --output tsv)"',
    'if [[ $granted == 0 ]]; then',
    '  az rest --method POST --url "$assignments" --headers \'Content-Type=application/json\' \\',
    '    --body "{\\"principalId\\":\\"$sp_id\\",\\"resourceId\\":\\"$exchange_sp\\",\\"appRoleId\\":\\"$role_id\\"}" --output none',
    '  say "admin consent granted for SMTP.SendAsApp"',
    'else',
    '  say "admin consent for SMTP.SendAsApp was already granted"',
    'fi',
    '',
  ];
}

/** The Function App's managed identity: the user-assigned one azd's infra gives it, else a system-assigned one. Never creates one. */
function appIdentity(header: string): string[] {
  return [
    header,
    'identities="$(az functionapp identity show --name "$function_app" --resource-group "$resource_group" --query \'userAssignedIdentities.*.[principalId, clientId]\' --output tsv)"',
    'case "$(count_lines "$identities")" in',
    '  0)',
    '    system_principal="$(az functionapp identity show --name "$function_app" --resource-group "$resource_group" --query principalId --output tsv)"',
    '    is_guid "$system_principal" || stop "the Function App $function_app has no managed identity: deploy it with azd (infra/ gives it one) or assign one"',
    '    [[ -z $identity_principal || "$(lower "$identity_principal")" == "$(lower "$system_principal")" ]] || stop "--identity-principal-id is not the identity of $function_app"',
    '    identity_principal="$system_principal"',
    '    say "system-assigned identity $identity_principal" ;;',
    '  1)',
    '    read -r found_principal identity_client <<<"$identities"',
    '    [[ -z $identity_principal || "$(lower "$identity_principal")" == "$(lower "$found_principal")" ]] || stop "--identity-principal-id is not the identity of $function_app"',
    '    identity_principal="$found_principal"',
    '    say "user-assigned identity $identity_principal (client ID $identity_client)" ;;',
    '  *)',
    '    [[ -n $identity_principal ]] || stop "$function_app has several user-assigned identities: run setup again with --identity-principal-id <the one the relay uses>"',
    '    identity_client="$(printf \'%s\\n\' "$identities" | awk -v p="$(lower "$identity_principal")" \'tolower($1) == p { print $2 }\')"',
    '    is_guid "$identity_client" || stop "--identity-principal-id is not an identity of $function_app"',
    '    say "user-assigned identity $identity_principal (client ID $identity_client)" ;;',
    'esac',
    'is_guid "$identity_principal" || stop "az returned no principal ID for the identity"',
    '',
  ];
}

/** Expiry of a new secret, with GNU date or BSD date (macOS). */
const EXPIRES = 'expires="$(date -u -d "+${secret_days} days" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v+"${secret_days}"d +%Y-%m-%dT%H:%M:%SZ)"';

const VAULT_ID =
  'vault_id="$(az keyvault show --name "$key_vault" --query id --output tsv)" || stop "no Key Vault $key_vault is visible to you (az account set --subscription <the vault subscription>)"';

function keyVaultSecret(): string[] {
  return [
    step('Client secret: created straight into Key Vault, with an expiry, never shown', 'clientSecret'),
    VAULT_ID,
    'present="$(az keyvault secret list --vault-name "$key_vault" --query "length([?name==\'$secret_name\'])" --output tsv)" \\',
    '  || stop "cannot list the secrets of $key_vault: you need Key Vault Secrets Officer on it (azd gives it to AZURE_PRINCIPAL_ID)"',
    'if [[ $present == 0 || ${RELAY_SETUP_NEW_SECRET:-} == 1 ]]; then',
    `  ${EXPIRES}`,
    '  # The Value goes from Entra to Key Vault through a pipe only: not on screen, in a file or on a command line.',
    '  az ad app credential reset --id "$app_id" --append --display-name "$app_name" --end-date "$expires" --query password --output tsv \\',
    "    | tr -d '\\r\\n' \\",
    '    | az keyvault secret set --vault-name "$key_vault" --name "$secret_name" --file /dev/stdin --expires "$expires" \\',
    "      --content-type 'client secret of the relay app registration' --output none",
    '  say "new client secret stored as $secret_name in $key_vault, expires $expires (Entra and Key Vault alike)"',
    'else',
    '  say "kept the secret $secret_name already in $key_vault (RELAY_SETUP_NEW_SECRET=1 adds a new one)"',
    'fi',
    '',
    ...secretsUserRole(step("Let the Function App's identity read the secret: Key Vault Secrets User", 'keyVault')),
  ];
}

/** Key Vault Secrets User on the vault for the Function App's identity, when one was found. */
function secretsUserRole(header: string): string[] {
  return [
    header,
    'if [[ -n $identity_principal ]]; then',
    '  roles="$(az role assignment list --assignee "$identity_principal" --role \'Key Vault Secrets User\' --scope "$vault_id" --query \'length(@)\' --output tsv)"',
    '  if [[ $roles == 0 ]]; then',
    '    az role assignment create --assignee-object-id "$identity_principal" --assignee-principal-type ServicePrincipal --role \'Key Vault Secrets User\' --scope "$vault_id" --output none',
    '    say "gave $identity_principal Key Vault Secrets User on $key_vault"',
    '  else',
    '    say "$identity_principal already has Key Vault Secrets User on $key_vault"',
    '  fi',
    'else',
    '  say "skipped: no --function-app given (under azd, infra/ already grants it)"',
    'fi',
    '',
  ];
}

function settingSecret(hasFunctionApp: boolean): string[] {
  const header = step('Client secret: put straight into the app setting OAUTH2_CLIENT_SECRET, never shown', 'clientSecret');
  if (!hasFunctionApp) {
    return [
      header,
      'say "skipped: without --function-app there is nowhere safe to put it. Create it in the portal (Certificates & secrets)"',
      'say "and paste its Value (not its Secret ID) into OAUTH2_CLIENT_SECRET of your local.settings.json or app settings,"',
      'say "or run setup again with --mode keyvault --key-vault <vault>."',
      '',
    ];
  }
  return [
    header,
    'present="$(az functionapp config appsettings list --name "$function_app" --resource-group "$resource_group" --query "length([?name==\'OAUTH2_CLIENT_SECRET\'])" --output tsv)"',
    'if [[ $present == 0 || ${RELAY_SETUP_NEW_SECRET:-} == 1 ]]; then',
    `  ${EXPIRES}`,
    '  # From Entra to the app setting through a pipe only, as {"OAUTH2_CLIENT_SECRET": <Value>}.',
    '  az ad app credential reset --id "$app_id" --append --display-name "$app_name" --end-date "$expires" \\',
    "    --query '{OAUTH2_CLIENT_SECRET: password}' --output json \\",
    '    | az functionapp config appsettings set --name "$function_app" --resource-group "$resource_group" --settings @/dev/stdin --output none',
    '  say "new client secret in the app setting OAUTH2_CLIENT_SECRET of $function_app, expires $expires"',
    'else',
    '  say "kept the app setting OAUTH2_CLIENT_SECRET of $function_app (RELAY_SETUP_NEW_SECRET=1 adds a new secret)"',
    'fi',
    '',
  ];
}

function federatedCredential(): string[] {
  return [
    step("Federated credential: the Function App's managed identity signs in for the app, no client secret", 'clientSecret', NO_SECRET),
    'issuer="https://login.microsoftonline.com/$tenant_id/v2.0"',
    'present="$(az ad app federated-credential list --id "$app_id" --query "length([?issuer==\'$issuer\' && subject==\'$identity_principal\'])" --output tsv)"',
    'if [[ $present == 0 ]]; then',
    '  az ad app federated-credential create --id "$app_id" --output none --parameters \\',
    `    "{\\"name\\":\\"oauth2-smtp-relay-\${identity_principal:0:8}\\",\\"issuer\\":\\"$issuer\\",\\"subject\\":\\"$identity_principal\\",\\"audiences\\":[\\"${FEDERATION_AUDIENCE}\\"]}"`,
    `  say "federated credential added: issuer $issuer, subject $identity_principal, audience ${FEDERATION_AUDIENCE}"`,
    'else',
    '  say "the federated credential for $identity_principal is already there"',
    'fi',
    '',
  ];
}

/**
 * The certificate mode: the certificate is made in Key Vault (never on this machine, so
 * its private key is never here), its public part uploaded to the app registration
 * unless a credential with its thumbprint is already there, and the identity may read
 * the private key through the certificate's secret.
 */
function clientCertificate(): string[] {
  const show = (query: string) => `az keyvault certificate show --vault-name "$key_vault" --name "$certificate_name" --query ${query} --output tsv`;
  return [
    step('Client certificate: created in Key Vault as PEM when absent, renewed there automatically', 'clientCertificate'),
    VAULT_ID,
    'present="$(az keyvault certificate list --vault-name "$key_vault" --query "length([?name==\'$certificate_name\'])" --output tsv)" \\',
    '  || stop "cannot list the certificates of $key_vault: you need Key Vault Certificates Officer on it"',
    'if [[ $present == 0 ]]; then',
    '  az keyvault certificate create --vault-name "$key_vault" --name "$certificate_name" --policy "$certificate_policy" --output none',
    '  say "created the certificate $certificate_name in $key_vault (PEM, exportable, renewed at 80% of its 12 months)"',
    'else',
    `  content_type="$(${show("'policy.secretProperties.contentType'")})"`,
    `  [[ $content_type == '${PEM_CONTENT_TYPE}' ]] || stop "the certificate $certificate_name in $key_vault is stored as \${content_type:-an unknown type}, not ${PEM_CONTENT_TYPE}: the relay cannot read it. Run setup again with another --certificate-name, or give it a new version with a PEM policy"`,
    '  say "kept the certificate $certificate_name already in $key_vault"',
    'fi',
    `thumbprint="$(${show('x509ThumbprintHex')})"`,
    "thumbprint=\"$(printf '%s' \"$thumbprint\" | tr '[:lower:]' '[:upper:]')\"",
    '[[ $thumbprint =~ ^[0-9A-F]{40}$ ]] || stop "the certificate $certificate_name is not issued yet (az keyvault certificate pending show --vault-name $key_vault --name $certificate_name): run this script again when it is"',
    '',
    step("Upload the certificate's public part to the app registration (Certificates & secrets → Certificates)", 'clientCertificate'),
    "# Graph gives a key credential's customKeyIdentifier (the SHA-1 thumbprint by default) as base64; some tools show it as hex.",
    'thumbprint_base64="$(printf "$(printf \'%s\' "$thumbprint" | sed \'s/../\\\\x&/g\')" | base64)"',
    'registered="$(az ad app credential list --id "$app_id" --cert --query \'[].customKeyIdentifier\' --output tsv)"',
    'if printf \'%s\\n\' "$registered" | grep -Fix -e "$thumbprint" -e "$thumbprint_base64" >/dev/null; then',
    '  say "the app registration already has the certificate $thumbprint"',
    'else',
    "  # --append keeps the app's other credentials (an older version stays valid until you remove it).",
    '  az ad app credential reset --id "$app_id" --keyvault "$key_vault" --cert "$certificate_name" --append --output none',
    '  say "uploaded the public part of $certificate_name (thumbprint $thumbprint) to the app registration"',
    'fi',
    'say "after each renewal (a new version in Key Vault) run this script again: it uploads the new version"',
    '',
    ...secretsUserRole(
      step("Let the Function App's identity read the certificate's private key (through its secret): Key Vault Secrets User", 'clientCertificate'),
    ),
  ];
}

/** The relay's settings for this app: printed, and set on the Function App when one is given. */
function relaySettings(mode: SetupMode, transport: string, graphScope: GraphScope): string[] {
  const byMode =
    mode === 'keyvault'
      ? ['settings+=("KEYVAULT_URL=https://$key_vault.vault.azure.net" "OAUTH2_CLIENT_SECRET_NAME=$secret_name")']
      : mode === 'federation'
        ? ['settings+=("OAUTH2_AUTH_MODE=managed-identity-federation")']
        : mode === 'certificate'
          ? ['settings+=("OAUTH2_AUTH_MODE=certificate" "KEYVAULT_URL=https://$key_vault.vault.azure.net" "OAUTH2_CLIENT_CERTIFICATE_NAME=$certificate_name")']
          : [];
  return [
    step('Relay settings for this app and mailbox (no secret among them)', 'oauthSettings'),
    'settings=("OAUTH2_TENANT_ID=$tenant_id" "OAUTH2_CLIENT_ID=$app_id" "SMTP_USER=$mailbox")',
    'if [[ -n $allowed_from ]]; then settings+=("MAIL_ALLOWED_FROM=$allowed_from"); fi',
    ...byMode,
    ...(transport === 'smtp'
      ? []
      : [
          `settings+=(${sh(`${TRANSPORT_SETTING}=${transport}`)})`,
          // The doctor then judges the Graph token by the grant this script made: no role under RBAC, Mail.Send under an Entra consent.
          `settings+=(${sh(`GRAPH_PERMISSION_GRANT=${graphScope === 'rbac' ? 'rbac' : 'entra'}`)})`,
        ]),
    'if [[ -n $identity_client ]]; then settings+=("MANAGED_IDENTITY_CLIENT_ID=$identity_client"); fi',
    'for setting in "${settings[@]}"; do say "$setting"; done',
    'if [[ -n $function_app ]]; then',
    '  az functionapp config appsettings set --name "$function_app" --resource-group "$resource_group" --settings "${settings[@]}" --output none',
    '  say "set on the Function App $function_app"',
    'fi',
    ...(mode === 'certificate'
      ? [
          'say "Remove OAUTH2_CLIENT_SECRET and OAUTH2_CLIENT_SECRET_NAME wherever they are set (the relay refuses them beside a certificate),"',
          'say "then delete the app\'s client secrets (Certificates & secrets → Client secrets)."',
        ]
      : []),
    "say 'With azd, keep them in its environment too (azd provision rewrites the app settings from it; infra/ sets the rest):'",
    'for setting in "${settings[@]}"; do',
    '  case "$setting" in',
    '    KEYVAULT_URL=* | MANAGED_IDENTITY_CLIENT_ID=*) ;;',
    `    *) printf '      azd env set %s %q\\n' "\${setting%%=*}" "\${setting#*=}" ;;`,
    '  esac',
    'done',
    '',
  ];
}

function nextStep(): string[] {
  return [
    'printf \'\\nNext, the Exchange Online steps, as an Exchange administrator, in %s:\\n\' "$script_dir"',
    `printf "  pwsh -File ./${SCRIPT_NAMES.exchange} -AppId '%s' -ObjectId '%s'\\n" "$app_id" "$sp_id"`,
  ];
}
