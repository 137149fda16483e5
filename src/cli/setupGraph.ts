/**
 * The Microsoft Graph transport's setup steps, for the two scripts `setup`
 * writes: in setup-entra.sh the application permission Mail.Send (and
 * Mail.ReadWrite when large messages are expected) of Microsoft Graph, in
 * setup-exchange.ps1 what keeps it to the sending mailboxes. Mail.Send with
 * admin consent alone lets the app send as every mailbox of the tenant, so the
 * default scoping is RBAC for Applications: no Entra consent at all (Entra's and
 * Exchange's grants add up, so a consent would make any scope meaningless), the
 * Exchange roles "Application Mail.Send" (and "Application Mail.ReadWrite") on a
 * management scope of the sending mailboxes. The legacy alternative keeps the
 * consent and narrows it with an application access policy on a mail-enabled
 * security group.
 */
import { stepLabel, type SetupStepId } from '../core/setupSteps';
import { graphScopeOf, usesGraph, type SetupValues } from './setupValues';
import { psQuote as ps, shQuote as sh } from './setupQuoting';

/** Microsoft Graph's appId, the same in every tenant. */
export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/**
 * The application permissions' role ids, for cross-checking only (the Graph permissions
 * reference); the script looks each up by its value on Graph's service principal.
 */
export const GRAPH_APP_ROLE_IDS = {
  'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
  'Mail.ReadWrite': 'e2a3a72e-5f79-4c64-b1b1-878b674786c9',
} as const;
export type GraphRole = keyof typeof GRAPH_APP_ROLE_IDS;

/** The setting that picks the default sender's transport (src/settings); printed among the relay settings. */
export const TRANSPORT_SETTING = 'RELAY_TRANSPORT';

/** Mail.Send always; Mail.ReadWrite only when messages over ~3 MB are expected (drafts and upload sessions need it). */
export function graphRoles(values: SetupValues): GraphRole[] {
  return values.graphLargeMessages ? ['Mail.Send', 'Mail.ReadWrite'] : ['Mail.Send'];
}

/** The addresses the Graph scope holds: the mailbox and each other From address. */
export function graphAddresses(values: SetupValues): string[] {
  return [values.mailbox, ...(values.sendAs ?? [])];
}

const shStep = (what: string, replaces: SetupStepId) => `step ${sh(what)} ${sh(stepLabel(replaces))}`;
const psStep = (what: string, replaces: SetupStepId) => `  Write-Step ${ps(what)} ${ps(stepLabel(replaces))}`;

/** setup-entra.sh: the variables the Graph steps use (none when the sender does not use Graph). */
export function graphEntraVariables(values: SetupValues): string[] {
  if (!usesGraph(values)) return [];
  return [`graph_app=${sh(MICROSOFT_GRAPH_APP_ID)} # Microsoft Graph`];
}

/**
 * setup-entra.sh: with an access policy or no scope, each role requested and consented
 * (an app role assignment on the app's service principal), looked up first; with RBAC
 * for Applications, the check that no such consent exists, because it would cover every
 * mailbox whatever the Exchange scope says.
 */
export function graphEntraSteps(values: SetupValues): string[] {
  if (!usesGraph(values)) return [];
  const roles = graphRoles(values);
  const names = roles.join(' and ');
  const rbac = graphScopeOf(values) === 'rbac';
  const header = rbac
    ? shStep(`Microsoft Graph ${names}: no tenant-wide admin consent (RBAC for Applications grants them per mailbox, in setup-exchange.ps1)`, 'graphPermission')
    : shStep(`Application permission ${names} of Microsoft Graph, with admin consent`, 'graphPermission');
  const perRole = rbac
    ? [
        '  if [[ $granted != 0 ]]; then',
        '    stop "the app has admin consent for Microsoft Graph $graph_role, which covers every mailbox of the tenant: RBAC for Applications adds to a consent, it cannot narrow it. Revoke it (Microsoft Entra admin center → Enterprise applications → $app_name → Permissions) and run this script again, or run setup again with --graph-scope access-policy"',
        '  fi',
        '  say "no tenant-wide consent for $graph_role: setup-exchange.ps1 assigns Application $graph_role on the sending mailboxes only"',
      ]
    : [
        '  requested="$(az ad app show --id "$app_id" --query "length(requiredResourceAccess[?resourceAppId==\'$graph_app\'].resourceAccess[] | [?id==\'$graph_role_id\'])" --output tsv)"',
        '  if [[ $requested == 0 ]]; then',
        '    az ad app permission add --id "$app_id" --api "$graph_app" --api-permissions "$graph_role_id=Role" --only-show-errors --output none',
        '    say "added Microsoft Graph $graph_role ($graph_role_id) to the app\'s API permissions"',
        '  else',
        '    say "Microsoft Graph $graph_role is already among the app\'s API permissions"',
        '  fi',
        '  if [[ $granted == 0 ]]; then',
        '    az rest --method POST --url "$assignments" --headers \'Content-Type=application/json\' \\',
        '      --body "{\\"principalId\\":\\"$sp_id\\",\\"resourceId\\":\\"$graph_sp\\",\\"appRoleId\\":\\"$graph_role_id\\"}" --output none',
        '    say "admin consent granted for Microsoft Graph $graph_role"',
        '  else',
        '    say "admin consent for Microsoft Graph $graph_role was already granted"',
        '  fi',
      ];
  return [
    header,
    'graph_sp="$(az ad sp list --filter "appId eq \'$graph_app\'" --query \'[0].id\' --output tsv)"',
    'is_guid "$graph_sp" || stop "Microsoft Graph has no service principal in this tenant"',
    'assignments="https://graph.microsoft.com/v1.0/servicePrincipals/$sp_id/appRoleAssignments"',
    `for graph_role in ${roles.map(sh).join(' ')}; do`,
    '  # The role id is looked up by its value, not copied from a page.',
    '  graph_role_id="$(az ad sp show --id "$graph_app" --query "appRoles[?value==\'$graph_role\'].id | [0]" --output tsv)"',
    '  is_guid "$graph_role_id" || stop "Microsoft Graph offers no $graph_role application permission in this tenant"',
    '  granted="$(az rest --method GET --url "$assignments" --query "length(value[?appRoleId==\'$graph_role_id\' && resourceId==\'$graph_sp\'])" --output tsv)"',
    ...perRole,
    'done',
    ...(graphScopeOf(values) === 'none'
      ? ['say "WARNING: unscoped, the app can send as EVERY mailbox of the tenant; setup --graph-scope rbac keeps it to the sending mailboxes"']
      : []),
    '',
  ];
}

/** setup-exchange.ps1: the variables of the Graph steps (verbatim strings). */
export function graphExchangeVariables(values: SetupValues): string[] {
  if (!usesGraph(values) || graphScopeOf(values) === 'none') return [];
  return [
    `$GraphAddresses = @(${graphAddresses(values).map(ps).join(', ')})`,
    `$GraphRoles = @(${graphRoles(values)
      .map((role) => ps(`Application ${role}`))
      .join(', ')})`,
    ...(graphScopeOf(values) === 'access-policy' ? [`$GraphGroup = ${ps(values.graphGroup!)}`] : []),
  ];
}

/** setup-exchange.ps1: the scoping step of a Graph sender, inside the script's try block; none when unscoped. */
export function graphExchangeSteps(values: SetupValues): string[] {
  if (!usesGraph(values)) return [];
  const scope = graphScopeOf(values);
  if (scope === 'rbac') return rbacScope();
  if (scope === 'access-policy') return accessPolicy();
  return [];
}

function rbacScope(): string[] {
  return [
    psStep('RBAC for Applications: the Exchange roles of Graph on a management scope of the sending mailboxes', 'graphMailboxScope'),
    '  $ScopeName = "relay $AppId mailboxes"',
    '  # An OPATH filter: each address a quoted literal, any quote character in it doubled.',
    "  $Filter = ($GraphAddresses | ForEach-Object { \"PrimarySmtpAddress -eq '{0}'\" -f ($_ -replace '[''\\u2018-\\u201B]', '$0$0') }) -join ' -or '",
    '  $Scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue',
    '  if ($null -eq $Scope) {',
    '    New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $Filter | Out-Null',
    '    Write-Done "created the management scope $ScopeName ($Filter)"',
    '  } else {',
    '    Set-ManagementScope -Identity $ScopeName -RecipientRestrictionFilter $Filter',
    '    Write-Done "the management scope $ScopeName holds $Filter"',
    '  }',
    '  foreach ($Role in $GraphRoles) {',
    "    $Name = \"relay $AppId $($Role -replace '^Application ', '')\"",
    '    if ($null -eq (Get-ManagementRoleAssignment -Identity $Name -ErrorAction SilentlyContinue)) {',
    '      New-ManagementRoleAssignment -Name $Name -Role $Role -App $ObjectId -CustomResourceScope $ScopeName | Out-Null',
    '      Write-Done "assigned $Role to the app on $ScopeName"',
    '    } else {',
    '      Write-Done "$Role was already assigned to the app ($Name)"',
    '    }',
    '  }',
    '  # Test-ServicePrincipalAuthorization reads the assignments themselves, not the cache Graph answers from.',
    '  $InScope = @(Test-ServicePrincipalAuthorization -Identity $ObjectId -Resource $Mailbox | Where-Object { $_.InScope -eq $true } | ForEach-Object { [string] $_.RoleName })',
    '  foreach ($Role in $GraphRoles) {',
    '    if ($InScope -notcontains $Role) { throw "Test-ServicePrincipalAuthorization: $Role is not in scope for $Mailbox; check the management scope $ScopeName (Get-ManagementScope -Identity \'$ScopeName\')" }',
    '  }',
    '  Write-Done "Test-ServicePrincipalAuthorization: $($GraphRoles -join \', \') in scope for $Mailbox (Graph may answer 403 for 30 minutes to 2 hours more)"',
    '',
  ];
}

function accessPolicy(): string[] {
  return [
    psStep('Application access policy: Graph restricted to a mail-enabled security group of the sending mailboxes', 'graphMailboxScope'),
    '  $Group = Get-DistributionGroup -Identity $GraphGroup -ErrorAction SilentlyContinue',
    '  if ($null -eq $Group) {',
    '    New-DistributionGroup -Name "relay $AppId senders" -Type Security -PrimarySmtpAddress $GraphGroup | Out-Null',
    '    Write-Done "created the mail-enabled security group $GraphGroup"',
    "  } elseif ([string] $Group.GroupType -notmatch 'SecurityEnabled') {",
    '    throw "$GraphGroup is a distribution list, not a mail-enabled security group: an application access policy needs a security group. Give setup another --graph-group."',
    '  } else {',
    '    Write-Done "found the security group $GraphGroup"',
    '  }',
    '  $Members = @(Get-DistributionGroupMember -Identity $GraphGroup -ResultSize Unlimited | ForEach-Object { [string] $_.PrimarySmtpAddress })',
    '  foreach ($Address in $GraphAddresses) {',
    '    if ($Members -notcontains $Address) {',
    '      Add-DistributionGroupMember -Identity $GraphGroup -Member $Address',
    '      Write-Done "added $Address to $GraphGroup"',
    '    } else {',
    '      Write-Done "$Address is already in $GraphGroup"',
    '    }',
    '  }',
    '  $Policy = @(Get-ApplicationAccessPolicy | Where-Object { [string] $_.AppId -eq $AppId }) | Select-Object -First 1',
    '  if ($null -eq $Policy) {',
    "    New-ApplicationAccessPolicy -AppId $AppId -PolicyScopeGroupId $GraphGroup -AccessRight RestrictAccess -Description 'oauth2-smtp-relay: Graph only for its sending mailboxes' | Out-Null",
    '    Write-Done "application access policy: $AppId restricted to $GraphGroup"',
    '  } else {',
    '    Write-Done "found the application access policy of $AppId ($($Policy.AccessRight) on $($Policy.ScopeName))"',
    '  }',
    '  $Check = Test-ApplicationAccessPolicy -Identity $Mailbox -AppId $AppId',
    '  if ([string] $Check.AccessCheckResult -ne \'Granted\') { throw "Test-ApplicationAccessPolicy: $AppId is $($Check.AccessCheckResult) for $Mailbox; is it in $GraphGroup?" }',
    '  Write-Done "Test-ApplicationAccessPolicy: granted for $Mailbox (Graph may answer 403 for up to an hour more)"',
    '',
  ];
}
