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
import { modeOf, SCRIPT_NAMES, type SetupValues } from './setupValues';
import { GOOGLE_SCRIPT, googleScript, type GoogleSetupValues } from './setupGoogleScript';

export { checkGoogleSetupValues, type GoogleSetupValues } from './setupGoogleScript';
export { checkSetupValues, modeOf, SETUP_MODES, type SetupMode, type SetupValues } from './setupValues';

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
    `Mode: ${modeOf(values)}. Both scripts print each step, the guide step it replaces, and skip what is already done.`,
    '',
    `1. bash ${written.entra}`,
    '   (Azure CLI signed in to the tenant as an administrator who can grant admin consent)',
    `2. pwsh -File ${written.exchange} -AppId <id> -ObjectId <id>`,
    '   with the exact line step 1 prints at its end (an Exchange administrator)',
    '3. oauth2-smtp-relay setup --check --settings <settings file>   (the doctor; names the first step still missing)',
  ];
  return lines.join('\n') + '\n';
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
