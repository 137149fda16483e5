/**
 * `oauth2-smtp-relay setup`: the setup guide's Entra and Exchange steps as two
 * scripts with the administrator's values in them, written to a folder:
 * setup-entra.sh (bash + Azure CLI) and setup-exchange.ps1 (Exchange Online
 * PowerShell). Both are safe to run again; neither holds or prints a secret.
 * `setup --check` runs the doctor and names the first step still missing.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { diagnosis } from '../core/diagnoses';
import { stepLabel, type SetupStepId } from '../core/setupSteps';
import type { CheckReport } from '../diagnostics/checks';
import { entraScript } from './setupEntraScript';
import { exchangeScript } from './setupExchangeScript';
import { graphScopeOf, modeOf, SCRIPT_NAMES, transportOf, usesGraph, usesSmtp, type SetupValues } from './setupValues';
import { graphRoles } from './setupGraph';
import { GOOGLE_SCRIPT, googleScript, type GoogleSetupValues } from './setupGoogleScript';

export { checkGoogleSetupValues, type GoogleSetupValues } from './setupGoogleScript';
export {
  checkSetupValues,
  GRAPH_SCOPES,
  modeOf,
  SETUP_MODES,
  SETUP_TRANSPORTS,
  type GraphScope,
  type SetupMode,
  type SetupTransport,
  type SetupValues,
} from './setupValues';

export interface WrittenScripts {
  entra: string;
  exchange: string;
}

/** Writes both scripts into `dir` (created when missing), replacing earlier ones. */
export function writeSetupScripts(dir: string, values: SetupValues, now = new Date()): WrittenScripts {
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const entra = join(folder, SCRIPT_NAMES.entra);
  const exchange = join(folder, SCRIPT_NAMES.exchange);
  // No secret is in either file (a test holds that); the bash script is made executable.
  writeFileSync(entra, entraScript(values, now));
  chmodSync(entra, 0o755);
  writeFileSync(exchange, exchangeScript(values, now));
  chmodSync(exchange, 0o644);
  return { entra, exchange };
}

/** `setup --provider google`: writes setup-google.sh into `dir` and says what to run. */
export function writeGoogleSetup(dir: string, values: GoogleSetupValues, now = new Date()): string {
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, GOOGLE_SCRIPT);
  writeFileSync(file, googleScript(values, now));
  chmodSync(file, 0o755);
  return (
    [
      `Wrote ${file}`,
      '',
      `1. bash ${file}`,
      '   (gcloud signed in as a project owner, az signed in with the right to set secrets in the vault)',
      '2. the Admin console step it prints at its end (a Workspace super administrator): the client ID with scope https://mail.google.com/',
      '3. oauth2-smtp-relay setup --check --settings <settings file>   (the doctor; names the first step still missing)',
    ].join('\n') + '\n'
  );
}

/** What to run, printed after the scripts are written. */
export function setupNextSteps(written: WrittenScripts, values: SetupValues): string {
  const lines = [
    `Wrote ${written.entra}`,
    `Wrote ${written.exchange}`,
    `Mode: ${modeOf(values)}. Transport: ${transportOf(values)}. Both scripts print each step, the guide step it replaces, and skip what is already done.`,
    ...graphNotes(values),
    '',
    `1. bash ${written.entra}`,
    '   (Azure CLI signed in to the tenant as an administrator who can grant admin consent)',
    `2. pwsh -File ${written.exchange} -AppId <id> -ObjectId <id>`,
    '   with the exact line step 1 prints at its end (an Exchange administrator)',
    '3. oauth2-smtp-relay setup --check --settings <settings file>   (the doctor; names the first step still missing)',
  ];
  return lines.join('\n') + '\n';
}

/** The guide steps a Graph-only sender skips: Graph needs no SMTP AUTH, no SMTP.SendAsApp, no FullAccess or SendAs, no SMTP server. */
export const GRAPH_SKIPS: SetupStepId[] = ['apiPermission', 'authenticatedSmtp', 'mailboxPermission', 'sendAs', 'emailServer'];

/** What a Graph sender's setup adds, and (Graph only) which guide steps it skips. */
function graphNotes(values: SetupValues): string[] {
  if (!usesGraph(values)) return [];
  const scope = graphScopeOf(values);
  const lines = [
    `Microsoft Graph: ${graphRoles(values).join(' and ')} (application)${values.graphLargeMessages ? '' : '; add --graph-large-messages for messages over 3 MB (Mail.ReadWrite: drafts and upload sessions)'}.`,
    scope === 'rbac'
      ? `Scoped by RBAC for Applications: no tenant-wide consent in Entra; ${SCRIPT_NAMES.exchange} assigns the Exchange roles on the sending mailboxes only.`
      : scope === 'access-policy'
        ? `Scoped by an application access policy on ${values.graphGroup}: admin consent in Entra, narrowed in ${SCRIPT_NAMES.exchange}.`
        : 'UNSCOPED (--graph-scope none): the app can send as every mailbox of the tenant.',
  ];
  if (!usesSmtp(values)) {
    const skipped = GRAPH_SKIPS.concat(scope === 'rbac' ? [] : ['servicePrincipal']);
    lines.push('A Graph-only sender skips these guide steps:', ...skipped.map((id) => `  - ${stepLabel(id)}`));
  }
  return lines;
}

/** Which script (or what else) does each guide step. */
const DONE_BY: Record<SetupStepId, string> = {
  tenantId: `the relay settings (${SCRIPT_NAMES.entra} prints them)`,
  authorizedUser: 'the Microsoft 365 admin center: a licensed user or a shared mailbox (not scripted)',
  enterpriseApplication: SCRIPT_NAMES.entra,
  apiPermission: SCRIPT_NAMES.entra,
  clientSecret: SCRIPT_NAMES.entra,
  clientCertificate: `${SCRIPT_NAMES.entra} with --mode certificate --key-vault <vault> (run it again after each renewal to upload the new version)`,
  authenticatedSmtp: SCRIPT_NAMES.exchange,
  servicePrincipal: SCRIPT_NAMES.exchange,
  mailboxPermission: SCRIPT_NAMES.exchange,
  sendAs: `${SCRIPT_NAMES.exchange} (give setup --send-as for each extra From address)`,
  fromAddress: 'the relay settings MAIL_FROM and MAIL_ALLOWED_FROM',
  emailServer: 'the relay settings SMTP_HOST, SMTP_PORT and SMTP_SECURITY',
  oauthSettings: `the relay settings (${SCRIPT_NAMES.entra} prints them, and sets them with --function-app)`,
  keyVault: `${SCRIPT_NAMES.entra} with --mode keyvault (under azd, infra/ grants the role)`,
  network: "the Function App's outbound network (not scripted)",
  googleServiceAccount: `${GOOGLE_SCRIPT} (setup --provider google)`,
  googleKey: `${GOOGLE_SCRIPT} (setup --provider google)`,
  googleKeyVault: `${GOOGLE_SCRIPT} (setup --provider google)`,
  googleDelegation: `the Google Admin console, by a super administrator (${GOOGLE_SCRIPT} prints the client ID and scope to enter)`,
  googleMailbox: 'the Google Admin console: an active user with Gmail on (not scripted)',
  graphPermission: `${SCRIPT_NAMES.entra} with --transport graph or smtp-then-graph (and --graph-large-messages for Mail.ReadWrite)`,
  graphMailboxScope: `${SCRIPT_NAMES.exchange} with --transport graph or smtp-then-graph (--graph-scope rbac, or access-policy --graph-group <group>)`,
};

/** The first guide step the doctor found missing, and which script does it; undefined when nothing failed. */
export function firstMissingStep(report: CheckReport): string | undefined {
  const failure = report.firstFailure;
  if (!failure) return undefined;
  const id = failure.finding?.diagnosis;
  const step = id === undefined ? undefined : diagnosis(id).steps[0];
  if (step === undefined) return `First setup step still missing: none named; the check "${failure.title}" failed (see above).`;
  return `First setup step still missing: ${stepLabel(step)}.\nDone by: ${DONE_BY[step]}.`;
}
