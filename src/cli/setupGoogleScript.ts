/**
 * setup-google.sh (`oauth2-smtp-relay setup --provider google`): the Google Cloud and Key Vault
 * steps of a Google Workspace sender in bash, with gcloud and the Azure CLI, and the one step
 * no CLI does, domain-wide delegation in the Admin console, printed with the exact client ID
 * and scope to enter. Every value given to `setup` appears once, single-quoted, at the top.
 * The key file exists only in a private temporary folder between `keys create` and
 * `az keyvault secret set --file`, and is deleted on every exit path; it is never printed.
 */
import { stepLabel, type SetupStepId } from '../core/setupSteps';
import { isEmailAddress } from '../message/address';
import { shQuote as sh } from './setupQuoting';

export const GOOGLE_SCRIPT = 'setup-google.sh';
export const GOOGLE_SETUP_DEFAULTS = { serviceAccount: 'smtp-relay', secretName: 'smtp-relay-google-key' } as const;
const GMAIL_SCOPE = 'https://mail.google.com/';

export interface GoogleSetupValues {
  /** Google Cloud project ID that holds the service account. */
  project: string;
  /** The Workspace mailbox to send as (SMTP_USER, the JWT sub). */
  mailbox: string;
  keyVault: string;
  /** Service account ID (the part before @); default smtp-relay. */
  serviceAccount?: string;
  secretName?: string;
  functionApp?: string;
  resourceGroup?: string;
}

/** Every problem with the values, as "option: problem". */
export function checkGoogleSetupValues(values: Partial<GoogleSetupValues>): string[] {
  const problems: string[] = [];
  if (values.project === undefined || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(values.project)) {
    problems.push('--project: the Google Cloud project ID (6 to 30 lower-case letters, digits and hyphens)');
  }
  if (values.mailbox === undefined || !isEmailAddress(values.mailbox)) problems.push('--mailbox: the Workspace mailbox to send as, e.g. relay@example.com');
  if (values.keyVault === undefined || !/^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/.test(values.keyVault)) {
    problems.push('--key-vault: the Key Vault name the key is stored in (3 to 24 letters, digits and hyphens)');
  }
  if (values.serviceAccount !== undefined && !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(values.serviceAccount)) {
    problems.push('--service-account: a service account ID (6 to 30 lower-case letters, digits and hyphens)');
  }
  if (values.secretName !== undefined && !/^[A-Za-z0-9-]{1,127}$/.test(values.secretName)) problems.push('--secret-name: letters, digits and hyphens only');
  if (values.functionApp !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(values.functionApp)) problems.push('--function-app: not a Function App name');
  if (values.resourceGroup !== undefined && !/^[-\w.()]{1,90}$/.test(values.resourceGroup)) problems.push('--resource-group: not a resource group name');
  if ((values.functionApp === undefined) !== (values.resourceGroup === undefined)) problems.push('--function-app and --resource-group: give both or neither');
  return problems;
}

const step = (what: string, replaces: SetupStepId) => `step ${sh(what)} ${sh(stepLabel(replaces))}`;

export function googleScript(values: GoogleSetupValues, now: Date): string {
  const lines = [
    '#!/usr/bin/env bash',
    '# oauth2-smtp-relay setup --provider google: a service account with domain-wide delegation for Gmail SMTP.',
    `# Written by \`oauth2-smtp-relay setup\` on ${now.toISOString()}.`,
    '# Run it with gcloud signed in as a project owner (gcloud auth login) and az signed in with',
    '# the right to set secrets in the vault. Safe to run again: it reuses the service account;',
    '# each run creates one new key (delete old ones: gcloud iam service-accounts keys list / delete).',
    'set -euo pipefail',
    '',
    '# The values given to `oauth2-smtp-relay setup`.',
    `project=${sh(values.project)}`,
    `mailbox=${sh(values.mailbox)}`,
    `service_account=${sh(values.serviceAccount ?? GOOGLE_SETUP_DEFAULTS.serviceAccount)}`,
    `key_vault=${sh(values.keyVault)}`,
    `secret_name=${sh(values.secretName ?? GOOGLE_SETUP_DEFAULTS.secretName)}`,
    `function_app=${sh(values.functionApp ?? '')}`,
    `resource_group=${sh(values.resourceGroup ?? '')}`,
    `scope=${sh(GMAIL_SCOPE)}`,
    'sa_email="$service_account@$project.iam.gserviceaccount.com"',
    '',
    'step() { printf \'\\n==> %s\\n    (%s)\\n\' "$1" "$2"; }',
    'say() { printf \'    %s\\n\' "$*"; }',
    `stop() { printf '${GOOGLE_SCRIPT} stopped: %s\\n' "$*" >&2; exit 1; }`,
    '',
    step('Service account: find it or create it, and read its numeric client ID', 'googleServiceAccount'),
    'if ! gcloud iam service-accounts describe "$sa_email" --project "$project" >/dev/null 2>&1; then',
    '  gcloud iam service-accounts create "$service_account" --project "$project" --display-name "SMTP relay ($mailbox)" >/dev/null',
    '  say "created $sa_email"',
    'fi',
    'client_id="$(gcloud iam service-accounts describe "$sa_email" --project "$project" --format \'value(oauth2ClientId)\')"',
    '[[ $client_id =~ ^[0-9]+$ ]] || stop "no numeric client ID for $sa_email"',
    'say "service account $sa_email, client ID $client_id (note it: the Admin console step needs it)"',
    '',
    step('JSON key: create one in a private temporary folder (deleted when the script ends)', 'googleKey'),
    'key_dir="$(mktemp -d)"',
    'chmod 700 "$key_dir"',
    'trap \'rm -rf -- "$key_dir"\' EXIT',
    'key_file="$key_dir/key.json"',
    '(umask 077 && gcloud iam service-accounts keys create "$key_file" --iam-account "$sa_email" --project "$project" --key-file-type json >/dev/null 2>&1) \\',
    '  || stop "gcloud could not create a key (an organization policy may forbid service account keys: iam.disableServiceAccountKeyCreation)"',
    '# A key expires only when the organization sets iam.serviceAccountKeyExpiryHours; Google says 9999-12-31 otherwise.',
    'valid_before="$(gcloud iam service-accounts keys list --iam-account "$sa_email" --project "$project" --managed-by user \\',
    "  --sort-by '~validAfterTime' --limit 1 --format 'value(validBeforeTime)')\"",
    'expires=()',
    'if [[ -n $valid_before && $valid_before != 9999-* ]]; then',
    '  expires=(--expires "$valid_before")',
    '  say "the key expires $valid_before: Key Vault gets the same date, so the relay\'s monitor warns before it"',
    'fi',
    '',
    step('The key into Key Vault, then the local file deleted', 'googleKeyVault'),
    'az keyvault secret set --vault-name "$key_vault" --name "$secret_name" --file "$key_file" --content-type application/json "${expires[@]}" --output none',
    'rm -rf -- "$key_dir"',
    'say "stored as Key Vault secret $secret_name in $key_vault; the local key file is deleted"',
    '',
    step('Domain-wide delegation: in the Google Admin console, as a super administrator (no CLI does this)', 'googleDelegation'),
    'say "admin.google.com -> Security -> Access and data control -> API controls -> Manage Domain Wide Delegation -> Add new"',
    'say "  Client ID:    $client_id"',
    'say "  OAuth scopes: $scope"',
    'say "then check that $mailbox is an active user with Gmail on (the relay signs in as that user)"',
    '',
    step('Relay settings', 'googleMailbox'),
    'settings=(OAUTH2_PROVIDER=google "KEYVAULT_URL=https://$key_vault.vault.azure.net" "OAUTH2_SERVICE_ACCOUNT_KEY_NAME=$secret_name" "SMTP_USER=$mailbox" "OAUTH2_CLIENT_ID=$client_id")',
    'if [[ -n $function_app ]]; then',
    '  az functionapp config appsettings set --name "$function_app" --resource-group "$resource_group" --settings "${settings[@]}" --output none',
    '  say "set on $function_app: ${settings[*]}"',
    'else',
    '  say "set these app settings: ${settings[*]}"',
    'fi',
    'say "then: oauth2-smtp-relay setup --check --settings <settings file>"',
  ];
  return lines.join('\n') + '\n';
}
