/**
 * What the doctor and the health endpoint find about a Graph sender before it sends:
 * its Graph token's claims (read locally) and whether the mailbox can be reached. The
 * failures Graph itself answers (access denied, mailbox not enabled, throttling) are in
 * graph.ts, beside the transport that meets them.
 */
import { APP_REGISTRATION, type Diagnosis, type Remedy } from './entry';

export const GRAPH_CHECK_DIAGNOSES = {
  graph_token_audience: {
    symptom: "the Graph token's aud is not Microsoft Graph (https://graph.microsoft.com, or its sovereign cloud's GRAPH_URL)",
    finding: 'The token the relay got for the Graph transport is for another API, so Graph answers 401 InvalidAuthenticationToken.',
    steps: ['oauthSettings'],
    fix:
      "The relay asks for <GRAPH_URL>/.default: set GRAPH_URL to the Graph of the tenant's cloud (https://graph.microsoft.com, " +
      'https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn) beside OAUTH2_AUTHORITY_HOST, and check that the token endpoint is Microsoft Entra ID.',
  },
  graph_role_missing: {
    symptom: "the Graph token's roles claim lacks Mail.Send",
    finding:
      'Microsoft Entra ID granted the app no Mail.Send application permission. That is right only when RBAC for Applications assigns it in Exchange ' +
      '(the token then carries no role); otherwise Graph answers 403 ErrorAccessDenied to every message.',
    steps: ['graphPermission', 'graphMailboxScope'],
    fix:
      `With RBAC for Applications, check the assignment: Test-ServicePrincipalAuthorization -Identity <service principal> -Resource <mailbox> must list ` +
      `"Application Mail.Send" InScope (setup --transport graph writes it). With an application access policy: in ${APP_REGISTRATION} → API permissions, ` +
      'add Microsoft Graph → Application permissions → Mail.Send (Mail.ReadWrite too for messages over 3 MB) and Grant admin consent. ' +
      'Never both: a consent in Entra opens every mailbox whatever the RBAC scope says.',
  },
  graph_consent_voids_rbac: {
    symptom: "GRAPH_PERMISSION_GRANT=rbac, and the Graph token's roles claim lists Mail.Send",
    finding:
      'Microsoft Entra ID has an admin-consented Mail.Send application permission for the app. Entra grants and RBAC for Applications add up, ' +
      'so the app can send as every mailbox of the tenant, whatever the RBAC management scope says.',
    steps: ['graphPermission', 'graphMailboxScope'],
    fix:
      `Remove the consented Microsoft Graph application permissions Mail.Send and Mail.ReadWrite (${APP_REGISTRATION} → API permissions → ` +
      '… → Revoke admin consent, then Remove permission), and keep the RBAC assignment (New-ManagementRoleAssignment -Role "Application Mail.Send" ' +
      '-CustomResourceScope <scope>). If an application access policy is the intended scoping instead, set GRAPH_PERMISSION_GRANT=entra.',
  },
} as const satisfies Record<string, Diagnosis>;

export const GRAPH_CHECK_REMEDIES = {
  /** Mail.Send only (or RBAC's Application Mail.Send alone): Graph has no read endpoint that proves the mailbox without sending. */
  graph_reachability_unproven: (params: { sendTo: string }) => `Only a message proves the mailbox: ${params.sendTo}.`,
} as const satisfies Record<string, Remedy>;
