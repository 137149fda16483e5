/**
 * AzCliDouble: a TEST DOUBLE of the Azure CLI (`az`) for running setup-entra.sh
 * where no tenant exists. It answers the commands the script uses, with az's
 * output shapes for `--output tsv` / `--output json`, from a JSON state file,
 * records every call's arguments, and fails as az does (exit 1 or 3, a message
 * on stderr) for what is not there. Queries are not evaluated as JMESPath: each
 * command recognises the query the script sends (the filter values are read out
 * of it) and answers what that query would return.
 *
 * Installed as an `az` executable on PATH by installAzDouble(); the state file
 * is named by AZ_DOUBLE_STATE.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The value every `az ad app credential reset` returns as the new password. */
export const DOUBLE_CLIENT_SECRET = 'Zq8Q~azdouble-client-secret.0123456789';

export interface AzState {
  tenantId: string;
  domains: string[];
  signedIn: boolean;
  apps: {
    appId: string;
    displayName: string;
    requiredRoles: string[];
    passwords: string[];
    federated: Record<string, unknown>[];
    /** Certificate credentials' customKeyIdentifier as Graph gives it: the SHA-1 thumbprint's bytes in base64. */
    certificates?: string[];
  }[];
  servicePrincipals: { id: string; appId: string }[];
  exchangeRoleId: string;
  /** Microsoft Graph's application permissions by value (Mail.Send, Mail.ReadWrite), as its service principal's appRoles list them. */
  graphRoleIds: Record<string, string>;
  appRoleAssignments: { principalId: string; resourceId: string; appRoleId: string }[];
  vaults: { name: string; secrets: Record<string, { value: string; expires: string }>; certificates?: Record<string, DoubleCertificate> }[];
  functionApps: {
    name: string;
    group: string;
    userAssigned: { principalId: string; clientId: string }[];
    systemPrincipal?: string;
    settings: Record<string, string>;
  }[];
  roleAssignments: { assignee: string; role: string; scope: string }[];
  calls: string[][];
}

/** A Key Vault certificate as `az keyvault certificate show` reports it (the double makes no key). */
export interface DoubleCertificate {
  /** x509ThumbprintHex: upper-case hex SHA-1; absent while the certificate is pending. */
  thumbprint?: string;
  /** policy.secretProperties.contentType */
  contentType: string;
  policy: unknown;
}

export const EXCHANGE_APP = '00000002-0000-0ff1-ce00-000000000000';
export const GRAPH_APP = '00000003-0000-0000-c000-000000000000';
/** The ids Microsoft Graph gives Mail.Send and Mail.ReadWrite in every tenant (the permissions reference). */
export const GRAPH_ROLE_IDS = { 'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96', 'Mail.ReadWrite': 'e2a3a72e-5f79-4c64-b1b1-878b674786c9' };

/** A tenant with Exchange Online and nothing of the relay yet. */
export function freshTenant(tenantId: string): AzState {
  return {
    tenantId,
    domains: ['contoso.onmicrosoft.com', 'contoso.com'],
    signedIn: true,
    apps: [],
    servicePrincipals: [
      { id: 'e0e0e0e0-0000-4000-8000-00000000e0e0', appId: EXCHANGE_APP },
      { id: '96a96a96-0000-4000-8000-0000000096a9', appId: GRAPH_APP },
    ],
    exchangeRoleId: '5e5e5e5e-0000-4000-8000-000000005e5e',
    graphRoleIds: { ...GRAPH_ROLE_IDS },
    appRoleAssignments: [],
    vaults: [],
    functionApps: [],
    roleAssignments: [],
    calls: [],
  };
}

/** Writes `az` (a shell wrapper around this module) into `dir`/bin; returns the folder to put first on PATH. */
export function installAzDouble(dir: string, state: AzState): { binDir: string; stateFile: string; read(): AzState } {
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const stateFile = join(dir, 'az-state.json');
  writeFileSync(stateFile, JSON.stringify(state));
  const az = join(binDir, 'az');
  writeFileSync(az, `#!/bin/sh\nAZ_DOUBLE_STATE='${stateFile}' exec '${process.execPath}' '${__filename}' "$@"\n`);
  chmodSync(az, 0o755);
  return { binDir, stateFile, read: () => JSON.parse(readFileSync(stateFile, 'utf8')) as AzState };
}

class AzFailure extends Error {
  constructor(
    message: string,
    readonly code = 3,
  ) {
    super(message);
  }
}

/** Positional words up to the first option, and the options (a repeated or multi-value option keeps every value). */
function parseArgs(argv: string[]): { words: string[]; options: Record<string, string[]> } {
  const words: string[] = [];
  const options: Record<string, string[]> = {};
  let current: string | undefined;
  for (const arg of argv) {
    if (arg.startsWith('--')) {
      current = arg.slice(2);
      options[current] ??= [];
    } else if (current === undefined) words.push(arg);
    else options[current]!.push(arg);
  }
  return { words, options };
}

/** The quoted values of `name=='value'` in a JMESPath query, in order. */
function queryValues(query: string): Record<string, string> {
  return Object.fromEntries([...query.matchAll(/(\w+)=='([^']*)'/g)].map((match) => [match[1]!, match[2]!]));
}

/** What the command reads from stdin (`--file /dev/stdin`, `@/dev/stdin`), read before the state is locked: the writer is the other end of a pipe. */
let stdin: string | undefined;
const readStdin = (): string => stdin ?? '';

function run(state: AzState, argv: string[]): string {
  const { words, options } = parseArgs(argv);
  const opt = (name: string) => options[name]?.[0];
  const query = opt('query') ?? '';
  const command = words.join(' ');
  const app = (id: string | undefined) => state.apps.find((entry) => entry.appId === id);
  const functionApp = () => state.functionApps.find((entry) => entry.name === opt('name') && entry.group === opt('resource-group'));
  const count = (n: number) => String(n);
  const vaultNamed = (name: string | undefined) => {
    const vault = state.vaults.find((entry) => entry.name === name);
    if (!vault) throw new AzFailure(`The Vault '${name}' not found within subscription.`);
    return vault;
  };

  switch (command) {
    case 'account show':
      if (!state.signedIn) throw new AzFailure("Please run 'az login' to setup account.", 1);
      return state.tenantId;
    case 'rest': {
      const url = opt('url') ?? '';
      if (url === 'https://graph.microsoft.com/v1.0/domains') return state.domains.join('\n');
      const assigned = /servicePrincipals\/([^/]+)\/appRoleAssignments$/.exec(url);
      if (!assigned) throw new AzFailure(`double: no such URL ${url}`);
      if (opt('method') === 'POST') {
        const body = JSON.parse(opt('body') ?? '{}') as AzState['appRoleAssignments'][number];
        if (body.principalId !== assigned[1]) throw new AzFailure('Bad Request: principalId is not the service principal of the URL');
        state.appRoleAssignments.push(body);
        return '';
      }
      const filter = queryValues(query);
      return count(
        state.appRoleAssignments.filter((a) => a.principalId === assigned[1] && a.appRoleId === filter.appRoleId && a.resourceId === filter.resourceId).length,
      );
    }
    case 'ad app show': {
      const found = app(opt('id'));
      if (!found) throw new AzFailure(`Resource '${opt('id')}' does not exist or one of its queried reference-property objects are not present.`);
      if (query === 'appId') return found.appId;
      const filter = queryValues(query);
      if (filter.resourceAppId !== EXCHANGE_APP && filter.resourceAppId !== GRAPH_APP) throw new AzFailure(`double: unexpected query ${query}`);
      return count(found.requiredRoles.filter((role) => role === filter.id).length);
    }
    case 'ad app list': {
      const literal = /^displayName eq '((?:[^']|'')*)'$/.exec(opt('filter') ?? '');
      if (!literal) throw new AzFailure(`double: unexpected filter ${opt('filter')}`, 1);
      const name = literal[1]!.replace(/''/g, "'");
      return state.apps
        .filter((entry) => entry.displayName === name)
        .map((entry) => entry.appId)
        .join('\n');
    }
    case 'ad app create': {
      const created = { appId: randomUUID(), displayName: opt('display-name')!, requiredRoles: [], passwords: [], federated: [] };
      state.apps.push(created);
      return created.appId;
    }
    case 'ad sp list': {
      const appId = /^appId eq '([^']*)'$/.exec(opt('filter') ?? '')?.[1];
      return state.servicePrincipals.find((sp) => sp.appId === appId)?.id ?? '';
    }
    case 'ad sp create': {
      if (!app(opt('id'))) throw new AzFailure('application not found');
      const sp = { id: randomUUID(), appId: opt('id')! };
      state.servicePrincipals.push(sp);
      return sp.id;
    }
    case 'ad sp show': {
      const value = queryValues(query).value;
      if (opt('id') === GRAPH_APP && value !== undefined) return state.graphRoleIds[value] ?? '';
      if (opt('id') !== EXCHANGE_APP || value !== 'SMTP.SendAsApp') throw new AzFailure(`double: unexpected ${argv.join(' ')}`);
      return state.exchangeRoleId;
    }
    case 'ad app permission add': {
      const [role, type] = (opt('api-permissions') ?? '').split('=');
      if ((opt('api') !== EXCHANGE_APP && opt('api') !== GRAPH_APP) || type !== 'Role') throw new AzFailure('double: unexpected permission');
      app(opt('id'))!.requiredRoles.push(role!);
      return '';
    }
    case 'ad app credential reset': {
      const found = app(opt('id'));
      if (!found) throw new AzFailure('application not found');
      if (options.append === undefined) throw new AzFailure('double: reset without --append would remove the other secrets');
      if (options.cert !== undefined) {
        // --keyvault --cert: az reads the certificate's current version from the vault and uploads its public part.
        const certificate = vaultNamed(opt('keyvault')).certificates?.[opt('cert')!];
        if (!certificate?.thumbprint) throw new AzFailure(`Certificate ${opt('cert')} not found in the vault`);
        (found.certificates ??= []).push(Buffer.from(certificate.thumbprint, 'hex').toString('base64'));
        return '';
      }
      found.passwords.push(opt('end-date')!);
      if (query === 'password') return DOUBLE_CLIENT_SECRET;
      if (query === '{OAUTH2_CLIENT_SECRET: password}' && opt('output') === 'json')
        return JSON.stringify({ OAUTH2_CLIENT_SECRET: DOUBLE_CLIENT_SECRET }, null, 2);
      throw new AzFailure(`double: unexpected query ${query}`);
    }
    case 'ad app credential list': {
      const found = app(opt('id'));
      if (!found) throw new AzFailure('application not found');
      if (options.cert === undefined || query !== '[].customKeyIdentifier') throw new AzFailure(`double: unexpected ${argv.join(' ')}`);
      return (found.certificates ?? []).join('\n');
    }
    case 'ad app federated-credential list': {
      const filter = queryValues(query);
      return count(app(opt('id'))!.federated.filter((entry) => entry.issuer === filter.issuer && entry.subject === filter.subject).length);
    }
    case 'ad app federated-credential create':
      app(opt('id'))!.federated.push(JSON.parse(opt('parameters')!) as Record<string, unknown>);
      return '';
    case 'functionapp identity show': {
      const found = functionApp();
      if (!found) throw new AzFailure('The Resource was not found.');
      if (query === 'principalId') return found.systemPrincipal ?? '';
      return found.userAssigned.map((identity) => `${identity.principalId}\t${identity.clientId}`).join('\n');
    }
    case 'functionapp config appsettings list':
      return count(Object.keys(functionApp()!.settings).filter((name) => name === queryValues(query).name).length);
    case 'functionapp config appsettings set': {
      const found = functionApp()!;
      for (const setting of options.settings ?? []) {
        if (setting === '@/dev/stdin') Object.assign(found.settings, JSON.parse(readStdin()) as Record<string, string>);
        else found.settings[setting.slice(0, setting.indexOf('='))] = setting.slice(setting.indexOf('=') + 1);
      }
      return '';
    }
    case 'keyvault show': {
      const vault = state.vaults.find((entry) => entry.name === opt('name'));
      if (!vault) throw new AzFailure(`The Vault '${opt('name')}' not found within subscription.`);
      return `/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${vault.name}`;
    }
    case 'keyvault secret list': {
      const vault = state.vaults.find((entry) => entry.name === opt('vault-name'))!;
      return count(Object.keys(vault.secrets).filter((name) => name === queryValues(query).name).length);
    }
    case 'keyvault secret set': {
      const vault = state.vaults.find((entry) => entry.name === opt('vault-name'))!;
      if (opt('file') !== '/dev/stdin' || options.value) throw new AzFailure('double: the secret must come from stdin');
      vault.secrets[opt('name')!] = { value: readStdin(), expires: opt('expires')! };
      return '';
    }
    case 'keyvault certificate list':
      return count(Object.keys(vaultNamed(opt('vault-name')).certificates ?? {}).filter((name) => name === queryValues(query).name).length);
    case 'keyvault certificate create': {
      const policy = JSON.parse(opt('policy')!) as { secretProperties?: { contentType?: string } };
      const vault = vaultNamed(opt('vault-name'));
      const contentType = policy.secretProperties?.contentType ?? 'application/x-pkcs12';
      (vault.certificates ??= {})[opt('name')!] = { thumbprint: randomBytes(20).toString('hex').toUpperCase(), contentType, policy };
      return '';
    }
    case 'keyvault certificate show': {
      const certificate = vaultNamed(opt('vault-name')).certificates?.[opt('name')!];
      if (!certificate) throw new AzFailure(`Certificate not found: ${opt('name')}`);
      if (query === 'x509ThumbprintHex') return certificate.thumbprint ?? '';
      if (query === 'policy.secretProperties.contentType') return certificate.contentType;
      throw new AzFailure(`double: unexpected query ${query}`);
    }
    case 'role assignment list':
      return count(state.roleAssignments.filter((a) => a.assignee === opt('assignee') && a.role === opt('role') && a.scope === opt('scope')).length);
    case 'role assignment create':
      state.roleAssignments.push({ assignee: opt('assignee-object-id')!, role: opt('role')!, scope: opt('scope')! });
      return '';
    default:
      throw new AzFailure(`double: az ${command} is not part of the double`, 2);
  }
}

/** The processes of a pipeline run at once: one at a time owns the state file (a lock directory). */
function withStateLock<T>(stateFile: string, work: () => T): T {
  const lock = `${stateFile}.lock`;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; ; tries += 1) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 2000) throw error;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
  try {
    return work();
  } finally {
    rmdirSync(lock);
  }
}

if (require.main === module) {
  const stateFile = process.env.AZ_DOUBLE_STATE!;
  const argv = process.argv.slice(2);
  if (argv.includes('/dev/stdin') || argv.includes('@/dev/stdin')) stdin = readFileSync(0, 'utf8');
  const output = withStateLock(stateFile, () => {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as AzState;
    state.calls.push(argv);
    try {
      return run(state, argv);
    } catch (error) {
      process.stderr.write(`ERROR: ${(error as Error).message}\n`);
      process.exitCode = error instanceof AzFailure ? error.code : 1;
      return '';
    } finally {
      writeFileSync(stateFile, JSON.stringify(state));
    }
  });
  if (output !== '' && argv.includes('--output') && !argv.includes('none')) process.stdout.write(`${output}\n`);
}
