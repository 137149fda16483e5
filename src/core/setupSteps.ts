/**
 * The steps of the setup guide, as an administrator finds them: which part of
 * the guide (Azure portal, Microsoft 365 admin center, Exchange Online
 * PowerShell, the relay's own settings) and which numbered step. Diagnoses name
 * these so an operator goes straight to the step that is wrong.
 */

export interface SetupStep {
  /** Where the step is done, as the guide's sections are called. */
  part: string;
  /** The guide's step number within that part; absent for steps the guide does not number. */
  number?: number;
  /** What the step sets up, in a few words. */
  title: string;
}

const AZURE = 'Azure portal';
const M365 = 'Microsoft 365 admin center';
const POWERSHELL = 'Exchange Online PowerShell';
const SETTINGS = 'Relay settings';
const DEPLOYMENT = 'Deployment';
const GOOGLE_CLOUD = 'Google Cloud (README: Google Workspace)';
const GOOGLE_ADMIN = 'Google Admin console (README: Google Workspace)';

export const SETUP_STEPS = {
  tenantId: { part: AZURE, number: 2, title: 'Tenant ID' },
  authorizedUser: { part: AZURE, number: 3, title: 'authorized user: a licensed mailbox' },
  enterpriseApplication: { part: AZURE, number: 4, title: 'enterprise application: Application ID and Object ID' },
  apiPermission: { part: AZURE, number: 5, title: 'API permission Office 365 Exchange Online → SMTP.SendAsApp, with admin consent' },
  clientSecret: { part: AZURE, number: 6, title: 'client secret (its Value, not its ID)' },
  authenticatedSmtp: { part: M365, number: 2, title: 'Authenticated SMTP turned on for the mailbox' },
  servicePrincipal: { part: POWERSHELL, number: 4, title: "New-ServicePrincipal with the enterprise application's Application ID and Object ID" },
  mailboxPermission: { part: POWERSHELL, number: 5, title: 'Add-MailboxPermission: FullAccess for the application on the mailbox' },
  sendAs: { part: POWERSHELL, title: 'Add-RecipientPermission: SendAs on each extra From address (not in the guide)' },
  fromAddress: { part: SETTINGS, title: 'From address, MAIL_FROM and MAIL_ALLOWED_FROM (guide: Basic Configuration)' },
  emailServer: { part: SETTINGS, title: 'SMTP_HOST, SMTP_PORT and SMTP_SECURITY (guide: Email server tab)' },
  oauthSettings: { part: SETTINGS, title: 'OAuth2 tenant, client ID, secret, scope and user (guide: OAuth2 tab)' },
  keyVault: { part: DEPLOYMENT, title: "client secret in Key Vault, readable by the Function App's managed identity" },
  clientCertificate: {
    part: DEPLOYMENT,
    title:
      'client certificate instead of a secret: a PEM certificate in Key Vault, its public part uploaded to the app registration (README: Certificate credential)',
  },
  googleServiceAccount: { part: GOOGLE_CLOUD, number: 1, title: 'service account (gcloud iam service-accounts create); note its numeric client ID' },
  googleKey: { part: GOOGLE_CLOUD, number: 2, title: 'JSON key of the service account (gcloud iam service-accounts keys create)' },
  googleKeyVault: { part: GOOGLE_CLOUD, number: 3, title: 'the JSON key into Key Vault (az keyvault secret set --file), then the local file deleted' },
  googleDelegation: {
    part: GOOGLE_ADMIN,
    number: 4,
    title: 'Security → Access and data control → API controls → Manage Domain Wide Delegation: the client ID with scope https://mail.google.com/',
  },
  googleMailbox: { part: GOOGLE_ADMIN, number: 5, title: 'SMTP_USER is an active Workspace user of the domain, with Gmail on' },
  network: { part: DEPLOYMENT, title: 'outbound network access from the Function App to the SMTP server and the token endpoint' },
  // The Microsoft Graph transport (README: Microsoft Graph transport); the guide has no such steps.
  graphPermission: {
    part: AZURE,
    title:
      'API permission Microsoft Graph → Mail.Send (application; Mail.ReadWrite too for messages over 3 MB), with admin consent unless RBAC for Applications grants it (README: Microsoft Graph transport)',
  },
  graphMailboxScope: {
    part: POWERSHELL,
    title:
      'scope Graph to the sending mailboxes: RBAC for Applications (New-ManagementScope, New-ManagementRoleAssignment "Application Mail.Send") or an application access policy (README: Microsoft Graph transport)',
  },
} as const satisfies Record<string, SetupStep>;

export type SetupStepId = keyof typeof SETUP_STEPS;

/** "Azure portal, step 6: client secret (its Value, not its ID)". */
export function stepLabel(id: SetupStepId): string {
  const step: SetupStep = SETUP_STEPS[id];
  return `${step.part}${step.number === undefined ? '' : `, step ${step.number}`}: ${step.title}`;
}
