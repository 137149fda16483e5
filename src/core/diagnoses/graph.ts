/** Diagnoses and remedies of Microsoft Graph, the graph transport (src/graph): permissions, the mailbox, limits. */
import type { Diagnosis, Remedy } from './entry';

const GRAPH_PERMISSIONS = 'app registration → API permissions → Add a permission → Microsoft Graph → Application permissions';

export const GRAPH_DIAGNOSES = {
  graph_access_denied: {
    symptom: 'Microsoft Graph 403 ErrorAccessDenied (or Authorization_RequestDenied) for sendMail',
    finding:
      'Graph refused the app access to the mailbox: Mail.Send is granted neither as an RBAC for Applications role assignment whose scope ' +
      'holds this mailbox nor as a consented Entra application permission, or an application access policy leaves this mailbox out.',
    steps: ['graphPermission', 'graphMailboxScope'],
    fix:
      'Grant Mail.Send one way, scoped to the sending mailboxes. RBAC for Applications (preferred; no Entra consent, which would open every mailbox): ' +
      'New-ManagementRoleAssignment -App <service principal> -Role "Application Mail.Send" -CustomResourceScope <scope that contains the mailbox>, ' +
      'checked with Test-ServicePrincipalAuthorization -Identity <service principal> -Resource <mailbox>. Or an application access policy: ' +
      `${GRAPH_PERMISSIONS} → Mail.Send with admin consent (the token's roles claim then lists Mail.Send; the doctor decodes it), and the mailbox in the ` +
      'mail-enabled security group the policy names (Test-ApplicationAccessPolicy -Identity <mailbox> -AppId <client id> must say Granted). ' +
      'Changes can take up to an hour to apply; messages are retried meanwhile.',
  },
  graph_draft_denied: {
    symptom: 'Microsoft Graph 403 ErrorAccessDenied creating a draft or an upload session (messages over 4 MB)',
    finding:
      "Messages over Graph's 4 MB request limit go as a draft with upload sessions, which need the application permission Mail.ReadWrite besides Mail.Send.",
    steps: ['graphPermission', 'graphMailboxScope'],
    fix:
      'Grant Mail.ReadWrite the way Mail.Send is granted: the RBAC for Applications role "Application Mail.ReadWrite" with the same scope, ' +
      `or ${GRAPH_PERMISSIONS} → Mail.ReadWrite with admin consent under the same application access policy.`,
  },
  graph_mailbox_not_enabled: {
    symptom: 'Microsoft Graph MailboxNotEnabledForRESTAPI',
    finding: 'The mailbox is not in Exchange Online (on-premises, or never created) or has no Exchange Online licence, so Graph cannot send from it.',
    steps: ['authorizedUser'],
    fix: 'Send from a licensed (or shared) mailbox that lives in Exchange Online; an on-premises mailbox needs the smtp transport.',
  },
  graph_mailbox_not_found: {
    symptom: 'Microsoft Graph 404 ErrorInvalidUser or ResourceNotFound for /users/<mailbox>',
    finding: 'Graph knows no user by the mailbox the sender names.',
    steps: ['authorizedUser'],
    fix: "Check SMTP_USER (or the RELAY_SENDERS entry's mailbox): the mailbox's user principal name or primary address, in the tenant of OAUTH2_TENANT_ID.",
  },
  graph_token_rejected: {
    symptom: 'Microsoft Graph 401 InvalidAuthenticationToken, again with a new token',
    finding: 'Graph refused the access token twice: it is not a Microsoft Graph token (audience), or it belongs to another tenant.',
    steps: ['oauthSettings'],
    fix:
      'The relay asks for <GRAPH_URL>/.default (https://graph.microsoft.com/.default): check GRAPH_URL (its cloud must match OAUTH2_AUTHORITY_HOST) ' +
      'and OAUTH2_TENANT_ID; run the doctor to decode the token.',
  },
  graph_throttled: {
    symptom: 'Microsoft Graph 429 (ApplicationThrottled, MailboxConcurrency) with Retry-After',
    finding: 'Graph is throttling the app or the mailbox (at most 4 concurrent requests per mailbox, and per-app limits).',
    steps: [],
    fix: "Nothing to fix now: the relay waits as long as Retry-After asks and sends at most 4 requests at once per mailbox and instance; with many instances, keep RELAY_LIMITS_SCOPE=app so the mailbox's limits hold for all of them.",
  },
  graph_unavailable: {
    symptom: 'Microsoft Graph 500, 502, 503 or 504, a timeout or a broken connection',
    finding: 'Microsoft Graph did not answer or is temporarily unavailable.',
    steps: ['network'],
    fix: 'Check that outbound HTTPS to GRAPH_URL is allowed from the Function App; messages are retried meanwhile.',
  },
} as const satisfies Record<string, Diagnosis>;

export const GRAPH_REMEDIES = {
  graph_recipients_invalid:
    "Correct the message's recipients (Graph refused them: ErrorInvalidRecipients) and send it again; replaying it unchanged fails again.",
  graph_message_too_large:
    "The message exceeds what Microsoft Graph or the mailbox accepts (Graph: 150 MB with upload sessions; the mailbox's MaxSendSize may be lower): send smaller attachments or raise the mailbox's MaxSendSize (Set-Mailbox -MaxSendSize).",
  graph_request_rejected:
    'Graph refused the request as malformed; the provider reply names the field. Report it with the reply if the message itself looks right.',
  /** smtp-then-graph switched a sender to Graph. */
  graph_fallback:
    'SMTP AUTH is disabled for this tenant or mailbox (535 5.7.139), so the sender uses Microsoft Graph. To stay on SMTP, turn Authenticated SMTP on (Microsoft 365 admin center → Active users → <mailbox> → Mail → Manage email apps); to stay on Graph, set the transport to graph.',
} as const satisfies Record<string, Remedy>;
