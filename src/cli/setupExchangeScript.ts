/**
 * setup-exchange.ps1: the Exchange Online PowerShell steps of the setup guide
 * (service principal, FullAccess on the mailbox, SendAs for extra senders,
 * Authenticated SMTP on the mailbox; for a Graph sender the scope of its
 * Mail.Send instead, setupGraph.ts, and none of the SMTP steps when it sends
 * through Graph only). The IDs come as parameters, because
 * setup-entra.sh finds the enterprise application's Object ID and prints the
 * exact invocation; the other values are verbatim strings at the top. Each step
 * reads before it adds, so running it again changes nothing already in place.
 */
import { stepLabel, type SetupStepId } from '../core/setupSteps';
import { graphScopeOf, SCRIPT_NAMES, SETUP_DEFAULTS, usesGraph, usesSmtp, type SetupValues } from './setupValues';
import { graphExchangeSteps, graphExchangeVariables } from './setupGraph';
import { psQuote as ps } from './setupQuoting';

const step = (what: string, replaces: SetupStepId) => `  Write-Step ${ps(what)} ${ps(stepLabel(replaces))}`;

export function exchangeScript(values: SetupValues, now: Date): string {
  const sendAs = values.sendAs ?? [];
  const smtp = usesSmtp(values);
  // RBAC for Applications assigns its roles to the Exchange service principal; SMTP logs in as it.
  const principal = smtp || (usesGraph(values) && graphScopeOf(values) === 'rbac');
  const steps = [
    ...(principal ? servicePrincipal() : []),
    ...(smtp ? mailboxPermission() : []),
    ...(smtp && sendAs.length > 0 ? sendAsSteps() : []),
    ...graphExchangeSteps(values),
    ...(smtp ? authenticatedSmtp() : []),
  ];
  const lines = [
    '# oauth2-smtp-relay setup: the Exchange Online steps of the setup guide.',
    `# Written by \`oauth2-smtp-relay setup\` on ${now.toISOString()}.`,
    `# Run it after ${SCRIPT_NAMES.entra}, as an Exchange administrator, with the line that script prints:`,
    `#   pwsh -File ./${SCRIPT_NAMES.exchange} -AppId <Application (client) ID> -ObjectId <enterprise application Object ID>`,
    '# Safe to run again: each step looks before it adds. Nothing secret is in this file.',
    '[CmdletBinding()]',
    'param(',
    `  [string] $AppId = ${ps(values.clientId ?? '')},`,
    `  [string] $ObjectId = ${ps(values.objectId ?? '')}`,
    ')',
    'Set-StrictMode -Version Latest',
    "$ErrorActionPreference = 'Stop'",
    '',
    '# The values given to `oauth2-smtp-relay setup` (verbatim strings: nothing in them is expanded).',
    `$Mailbox = ${ps(values.mailbox)}`,
    `$SendAs = @(${sendAs.map(ps).join(', ')})`,
    `$DisplayName = ${ps(values.appName ?? SETUP_DEFAULTS.appName)}`,
    ...graphExchangeVariables(values),
    "$Guid = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'",
    '',
    'function Write-Step([string] $What, [string] $Replaces) {',
    "  Write-Host ''",
    '  Write-Host "==> $What"',
    '  Write-Host "    (replaces $Replaces)"',
    '}',
    'function Write-Done([string] $Text) { Write-Host "    $Text" }',
    '',
    `if ($AppId -notmatch $Guid) { throw 'Give -AppId: the Application (client) ID that ${SCRIPT_NAMES.entra} printed.' }`,
    `if ($ObjectId -notmatch $Guid) { throw 'Give -ObjectId: the enterprise application Object ID that ${SCRIPT_NAMES.entra} printed.' }`,
    "if ($ObjectId -eq $AppId) { throw '-ObjectId is the Application (client) ID: give the Object ID of the enterprise application.' }",
    '',
    ...(steps.length === 0 ? NOTHING_TO_DO : []),
    'if (-not (Get-Module -ListAvailable -Name ExchangeOnlineManagement)) {',
    "  Write-Host 'Installing the ExchangeOnlineManagement module for this user'",
    '  Install-Module -Name ExchangeOnlineManagement -Scope CurrentUser -Force',
    '}',
    'Import-Module ExchangeOnlineManagement',
    'Connect-ExchangeOnline -ShowBanner:$false',
    'try {',
    ...steps,
    '} finally {',
    '  Disconnect-ExchangeOnline -Confirm:$false',
    '}',
    '',
    "Write-Host ''",
    "Write-Host 'Exchange can take up to an hour to apply these. Then check with: oauth2-smtp-relay setup --check --settings <settings file>'",
  ];
  return lines.join('\n') + '\n';
}

/** An unscoped Graph-only sender: no Exchange step at all (the script says so and connects to nothing). */
const NOTHING_TO_DO = [
  "Write-Host 'Nothing to do in Exchange Online: this sender sends through Microsoft Graph, unscoped (--graph-scope none),'",
  "Write-Host 'so it needs no SMTP AUTH, FullAccess, SendAs or scope. Run setup --graph-scope rbac to keep it to its mailboxes.'",
  'exit 0',
];

function servicePrincipal(): string[] {
  return [
    step('Exchange service principal for the app (Application ID and enterprise application Object ID)', 'servicePrincipal'),
    '  $Principal = @(Get-ServicePrincipal | Where-Object { $_.AppId -eq $AppId }) | Select-Object -First 1',
    '  if ($null -eq $Principal) {',
    '    New-ServicePrincipal -AppId $AppId -ObjectId $ObjectId -DisplayName $DisplayName | Out-Null',
    '    Write-Done "created the service principal for $AppId"',
    '  } elseif ([string] $Principal.ObjectId -ne $ObjectId) {',
    "    # The usual mistake: made with the app registration's Object ID instead of the enterprise application's.",
    '    throw "Exchange has a service principal for $AppId with Object ID $($Principal.ObjectId), not $ObjectId. Remove it (Remove-ServicePrincipal -Identity $($Principal.ObjectId)) and run this script again."',
    '  } else {',
    '    Write-Done "found the service principal for $AppId"',
    '  }',
    '',
  ];
}

function mailboxPermission(): string[] {
  return [
    step('FullAccess for the app on the mailbox', 'mailboxPermission'),
    '  $Access = @(Get-MailboxPermission -Identity $Mailbox -User $ObjectId -ErrorAction SilentlyContinue |',
    "      Where-Object { -not $_.Deny -and (($_.AccessRights -join ',') -match 'FullAccess') })",
    '  if ($Access.Count -eq 0) {',
    '    Add-MailboxPermission -Identity $Mailbox -User $ObjectId -AccessRights FullAccess | Out-Null',
    '    Write-Done "FullAccess on $Mailbox given"',
    '  } else {',
    '    Write-Done "FullAccess on $Mailbox was already given"',
    '  }',
    '',
  ];
}

function sendAsSteps(): string[] {
  return [
    step('SendAs on each extra From address', 'sendAs'),
    '  foreach ($Address in $SendAs) {',
    '    $Right = @(Get-RecipientPermission -Identity $Address -Trustee $ObjectId -ErrorAction SilentlyContinue |',
    "        Where-Object { ($_.AccessRights -join ',') -match 'SendAs' })",
    '    if ($Right.Count -eq 0) {',
    '      Add-RecipientPermission -Identity $Address -Trustee $ObjectId -AccessRights SendAs -Confirm:$false | Out-Null',
    '      Write-Done "SendAs on $Address given"',
    '    } else {',
    '      Write-Done "SendAs on $Address was already given"',
    '    }',
    '  }',
    '',
  ];
}

function authenticatedSmtp(): string[] {
  return [
    step('Authenticated SMTP on for the mailbox', 'authenticatedSmtp'),
    '  $Cas = Get-CASMailbox -Identity $Mailbox',
    '  if ($Cas.SmtpClientAuthenticationDisabled -ne $false) {',
    '    Set-CASMailbox -Identity $Mailbox -SmtpClientAuthenticationDisabled $false',
    '    Write-Done "Authenticated SMTP turned on for $Mailbox"',
    '  } else {',
    '    Write-Done "Authenticated SMTP was already on for $Mailbox"',
    '  }',
  ];
}
