/**
 * The `az` steps that set up OAUTH2_AUTH_MODE=certificate, for the setup command to
 * print (not wired into setup.ts here: that file is being rewritten; the lead wires
 * it in). Each step is one command with the reason it is needed. The certificate is
 * created in Key Vault with content type application/x-pem-file, because the relay
 * reads its private key through the secret of the same name and Node.js cannot read
 * PKCS#12 without an extra library.
 */

export interface CertificateSetupInput {
  /** Key Vault name (not its URL). */
  vaultName: string;
  /** Key Vault certificate name (OAUTH2_CLIENT_CERTIFICATE_NAME). */
  certificateName: string;
  /** Application (client) ID of the app registration (OAUTH2_CLIENT_ID). */
  clientId: string;
  /** Subject of the certificate; default CN=<certificate name>. */
  subject?: string;
  /** Validity in months; default 12 (Key Vault renews at 80% of it with the default lifetime action). */
  validityMonths?: number;
  /** Function App and resource group, for the app settings step; absent: that step names them as placeholders. */
  functionApp?: string;
  resourceGroup?: string;
}

export interface SetupCommand {
  why: string;
  command: string;
}

/** Single quotes for a POSIX shell (the values come from the operator, never from producers). */
function quoted(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function certificateSetupCommands(input: CertificateSetupInput): SetupCommand[] {
  const vault = quoted(input.vaultName);
  const name = quoted(input.certificateName);
  const policy = {
    issuerParameters: { name: 'Self' },
    keyProperties: { exportable: true, keyType: 'RSA', keySize: 2048, reuseKey: false },
    secretProperties: { contentType: 'application/x-pem-file' },
    x509CertificateProperties: {
      subject: input.subject ?? `CN=${input.certificateName}`,
      keyUsage: ['digitalSignature'],
      ekus: ['1.3.6.1.5.5.7.3.2'],
      validityInMonths: input.validityMonths ?? 12,
    },
    lifetimeActions: [{ trigger: { lifetimePercentage: 80 }, action: { actionType: 'AutoRenew' } }],
  };
  const app = input.functionApp ? quoted(input.functionApp) : '<function app>';
  const group = input.resourceGroup ? quoted(input.resourceGroup) : '<resource group>';
  return [
    {
      why: 'Create the certificate in Key Vault, exportable, as PEM (the relay reads its private key through the secret; PKCS#12 is refused), renewed automatically at 80% of its life.',
      command: `az keyvault certificate create --vault-name ${vault} --name ${name} --policy ${quoted(JSON.stringify(policy))}`,
    },
    {
      why: "Upload the certificate's public part to the app registration (Certificates & secrets → Certificates); --append keeps the credentials it has.",
      command: `az ad app credential reset --id ${quoted(input.clientId)} --keyvault ${vault} --cert ${name} --append`,
    },
    {
      why: "Let the Function App's managed identity read the private key: the role Key Vault Secrets User on the vault (the key is read through GET secrets/<name>).",
      command:
        `az role assignment create --role 'Key Vault Secrets User' --assignee "$(az functionapp identity show -g ${group} -n ${app} --query principalId -o tsv)" ` +
        `--scope "$(az keyvault show --name ${vault} --query id -o tsv)"`,
    },
    {
      why: 'Switch the relay to the certificate: no client secret setting remains.',
      command:
        `az functionapp config appsettings set -g ${group} -n ${app} --settings OAUTH2_AUTH_MODE=certificate ` +
        `"KEYVAULT_URL=https://${input.vaultName}.vault.azure.net" OAUTH2_CLIENT_CERTIFICATE_NAME=${name}`,
    },
    {
      why: "After each renewal (a new Key Vault version), upload the new version's public part the same way; the relay reads the new version without a restart.",
      command: `az ad app credential reset --id ${quoted(input.clientId)} --keyvault ${vault} --cert ${name} --append`,
    },
  ];
}

/** The steps as text, one comment line and one command each. */
export function formatCertificateSetup(input: CertificateSetupInput): string {
  return certificateSetupCommands(input)
    .map((step, index) => `# ${index + 1}. ${step.why}\n${step.command}`)
    .join('\n\n');
}
