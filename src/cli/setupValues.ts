/**
 * The values `oauth2-smtp-relay setup` takes, the modes, and their checks: what
 * the two scripts are generated from (setupEntraScript.ts, setupExchangeScript.ts).
 */
import { echoSetting } from '../core/echo';
import { isEmailAddress } from '../message/address';

/** Where the relay's client credential comes from. */
export const SETUP_MODES = ['secret', 'keyvault', 'federation', 'certificate'] as const;
export type SetupMode = (typeof SETUP_MODES)[number];

/** How the sender sends (RELAY_TRANSPORT / a sender's `transport`): its own setup steps each. */
export const SETUP_TRANSPORTS = ['smtp', 'graph', 'smtp-then-graph'] as const;
export type SetupTransport = (typeof SETUP_TRANSPORTS)[number];

/**
 * How Graph's Mail.Send is kept to the sending mailboxes: RBAC for Applications (the Exchange
 * role "Application Mail.Send" on a management scope, no Entra consent: Entra's and Exchange's
 * grants add up), an application access policy (Entra consent, narrowed by a mail-enabled
 * security group), or not at all (Entra consent: every mailbox of the tenant).
 */
export const GRAPH_SCOPES = ['rbac', 'access-policy', 'none'] as const;
export type GraphScope = (typeof GRAPH_SCOPES)[number];

export interface SetupValues {
  tenantId: string;
  mailbox: string;
  /** Display name of the app registration to find or create. */
  appName?: string;
  /** An existing app registration's Application (client) ID; without it the app is found or created by name. */
  clientId?: string;
  /** Object ID of the Enterprise application (service principal), not of the app registration. */
  objectId?: string;
  /** Other From addresses the app may send as. */
  sendAs?: string[];
  /** secret (an app setting), keyvault (default with --key-vault), federation (no secret) or certificate (a Key Vault certificate, no secret). */
  mode?: SetupMode;
  keyVault?: string;
  secretName?: string;
  /** Key Vault certificate name of the certificate mode (OAUTH2_CLIENT_CERTIFICATE_NAME). */
  certificateName?: string;
  /** Lifetime of the new client secret, in days. */
  secretDays?: number;
  functionApp?: string;
  resourceGroup?: string;
  /** Principal (object) ID of the Function App's managed identity, e.g. azd's AZURE_RELAY_IDENTITY_PRINCIPAL_ID. */
  identityPrincipalId?: string;
  /** smtp (default), graph or smtp-then-graph. */
  transport?: SetupTransport;
  /** The Graph transports: how Mail.Send is scoped (default rbac). */
  graphScope?: GraphScope;
  /** The Graph transports: messages over ~3 MB expected, so Mail.ReadWrite too (drafts and upload sessions). */
  graphLargeMessages?: boolean;
  /** The access-policy scope: the mail-enabled security group's address (made when absent). */
  graphGroup?: string;
}

/** What the scripts use when a value is not given (azd's infra uses the same names). */
export const SETUP_DEFAULTS = {
  appName: 'oauth2-smtp-relay',
  secretName: 'smtp-relay-client-secret',
  certificateName: 'smtp-relay-client-certificate',
  secretDays: 180,
} as const;

export const SCRIPT_NAMES = { entra: 'setup-entra.sh', exchange: 'setup-exchange.ps1' } as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
const AZURE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const RESOURCE_GROUP = /^[-\w.()]{1,90}$/;
/** Entra allows up to 120 characters in a display name; no line breaks or other controls. */
const DISPLAY_NAME = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]{1,120}$/;

export function transportOf(values: SetupValues): SetupTransport {
  return values.transport ?? 'smtp';
}

/** Whether the sender sends through Graph (graph or smtp-then-graph), and through SMTP (smtp or smtp-then-graph). */
export const usesGraph = (values: SetupValues) => transportOf(values) !== 'smtp';
export const usesSmtp = (values: SetupValues) => transportOf(values) !== 'graph';

export function graphScopeOf(values: SetupValues): GraphScope {
  return values.graphScope ?? 'rbac';
}

export function modeOf(values: SetupValues): SetupMode {
  return values.mode ?? (values.keyVault === undefined ? 'secret' : 'keyvault');
}

/** Every problem with the values, as "option: problem". */
export function checkSetupValues(values: SetupValues): string[] {
  const problems: string[] = [];
  if (!GUID.test(values.tenantId) && !DOMAIN.test(values.tenantId)) problems.push('--tenant-id: must be the Directory (tenant) ID (a GUID) or a domain');
  if (values.clientId !== undefined && !GUID.test(values.clientId)) problems.push('--client-id: must be the Application (client) ID, a GUID');
  if (values.objectId !== undefined) {
    if (!GUID.test(values.objectId)) problems.push("--object-id: must be the Enterprise application's Object ID, a GUID");
    else if (values.objectId.toLowerCase() === values.clientId?.toLowerCase()) {
      problems.push("--object-id: is the Application (client) ID; give the Object ID shown on the Enterprise application's Overview");
    }
  }
  if (values.appName !== undefined && (!DISPLAY_NAME.test(values.appName) || values.appName.trim() === '')) {
    problems.push('--app-name: 1 to 120 characters, no line breaks or control characters');
  }
  if (!isEmailAddress(values.mailbox)) problems.push('--mailbox: must be the authorized mailbox, e.g. relay@contoso.com');
  for (const address of values.sendAs ?? []) if (!isEmailAddress(address)) problems.push(`--send-as: ${echoSetting(address)} is not an e-mail address`);
  if (values.keyVault !== undefined && !/^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/.test(values.keyVault)) {
    problems.push('--key-vault: must be a Key Vault name (3 to 24 letters, digits and hyphens)');
  }
  if (values.secretName !== undefined && !/^[A-Za-z0-9-]{1,127}$/.test(values.secretName)) problems.push('--secret-name: letters, digits and hyphens only');
  if (values.certificateName !== undefined && !/^[A-Za-z0-9-]{1,127}$/.test(values.certificateName)) {
    problems.push('--certificate-name: a Key Vault certificate name (letters, digits and hyphens, up to 127)');
  }
  if (values.functionApp !== undefined && !AZURE_NAME.test(values.functionApp)) problems.push('--function-app: not a Function App name');
  if (values.resourceGroup !== undefined && !RESOURCE_GROUP.test(values.resourceGroup)) problems.push('--resource-group: not a resource group name');
  if ((values.functionApp === undefined) !== (values.resourceGroup === undefined)) problems.push('--function-app and --resource-group: give both or neither');
  if (values.secretDays !== undefined && !(Number.isInteger(values.secretDays) && values.secretDays >= 1 && values.secretDays <= 730)) {
    problems.push('--secret-days: a whole number of days from 1 to 730');
  }
  if (values.identityPrincipalId !== undefined && !GUID.test(values.identityPrincipalId)) {
    problems.push("--identity-principal-id: must be the managed identity's principal (object) ID, a GUID");
  }
  if (values.mode !== undefined && !SETUP_MODES.includes(values.mode)) problems.push(`--mode: one of ${SETUP_MODES.join(', ')}`);
  else problems.push(...modeProblems(values));
  problems.push(...graphProblems(values));
  return problems;
}

/** The Graph options: only for a Graph transport, the group only for (and required by) the access policy. */
function graphProblems(values: SetupValues): string[] {
  if (values.transport !== undefined && !SETUP_TRANSPORTS.includes(values.transport)) return [`--transport: one of ${SETUP_TRANSPORTS.join(', ')}`];
  if (!usesGraph(values)) {
    const given = [
      ['--graph-scope', values.graphScope],
      ['--graph-large-messages', values.graphLargeMessages],
      ['--graph-group', values.graphGroup],
    ].filter(([, value]) => value !== undefined);
    return given.map(([option]) => `${String(option)}: only the Graph transports use it (--transport graph or smtp-then-graph)`);
  }
  if (values.graphScope !== undefined && !GRAPH_SCOPES.includes(values.graphScope)) return [`--graph-scope: one of ${GRAPH_SCOPES.join(', ')}`];
  const problems: string[] = [];
  if (graphScopeOf(values) === 'access-policy') {
    if (values.graphGroup === undefined)
      problems.push('--graph-scope access-policy: needs --graph-group (the mail-enabled security group the policy is scoped to)');
    else if (!isEmailAddress(values.graphGroup)) problems.push('--graph-group: must be the e-mail address of a mail-enabled security group');
  } else if (values.graphGroup !== undefined) {
    problems.push('--graph-group: only the access policy uses it (--graph-scope access-policy)');
  }
  return problems;
}

/** The options each mode needs, and those it would silently ignore. */
function modeProblems(values: SetupValues): string[] {
  const mode = modeOf(values);
  const problems: string[] = [];
  if (mode === 'keyvault' && values.keyVault === undefined) problems.push('--mode keyvault: needs --key-vault');
  if (mode === 'secret' && values.keyVault !== undefined) problems.push('--key-vault: the secret mode puts the secret in an app setting; use --mode keyvault');
  if (mode !== 'certificate' && values.certificateName !== undefined)
    problems.push('--certificate-name: only the certificate mode uses it (--mode certificate)');
  if (mode === 'certificate') {
    if (values.keyVault === undefined) problems.push('--mode certificate: needs --key-vault (the certificate and its private key live there)');
    for (const [option, value] of [
      ['--secret-name', values.secretName],
      ['--secret-days', values.secretDays],
    ] as const) {
      if (value !== undefined) problems.push(`${option}: the certificate mode has no client secret (the certificate's policy sets its lifetime)`);
    }
  }
  if (mode === 'federation') {
    for (const [option, value] of [
      ['--key-vault', values.keyVault],
      ['--secret-name', values.secretName],
      ['--secret-days', values.secretDays],
    ] as const) {
      if (value !== undefined) problems.push(`${option}: the federation mode has no client secret`);
    }
    if (values.identityPrincipalId === undefined && values.functionApp === undefined) {
      problems.push("--mode federation: needs --identity-principal-id (azd's AZURE_RELAY_IDENTITY_PRINCIPAL_ID) or --function-app and --resource-group");
    }
  }
  if (mode !== 'federation' && values.identityPrincipalId !== undefined && values.functionApp === undefined) {
    problems.push('--identity-principal-id: only the federation mode uses it without --function-app');
  }
  return problems;
}
