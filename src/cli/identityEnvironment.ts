/**
 * The Azure SDK's sign-in settings that only exist as environment variables.
 *
 * In Azure the Functions host puts every app setting in the process
 * environment, and @azure/identity (through MSAL) reads the managed identity
 * endpoint from there: IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service and
 * Functions), MSI_ENDPOINT and MSI_SECRET (older App Service, Cloud Shell),
 * IMDS_ENDPOINT (Arc), AZURE_POD_IDENTITY_AUTHORITY_HOST, and
 * DefaultAzureCredential's AZURE_CLIENT_ID, AZURE_TENANT_ID,
 * AZURE_FEDERATED_TOKEN_FILE and the like. No credential option takes these
 * values (the user-assigned identity's client ID is the one that is passed
 * explicitly, from MANAGED_IDENTITY_CLIENT_ID), and MSAL reads them when the
 * credential is made and again at the first token request. So a command that
 * takes its settings from a file (`--settings`) must put these in process.env
 * for as long as it uses credentials built from those settings.
 *
 * MSAL keeps the managed identity source it chose at the first token request
 * for the whole process: one command run per process sees its settings; a
 * second run in the same process with another endpoint would not.
 */
import type { Environment } from '../settings';

/** The names @azure/identity 4 and @azure/msal-node read from process.env (by prefix, so new ones are covered too). */
export function isIdentityVariable(name: string): boolean {
  return /^(AZURE_|IDENTITY_|MSI_|MSAL_)/.test(name) || name === 'IMDS_ENDPOINT' || name === 'REGION_NAME';
}

/**
 * Runs `use` with the identity variables of process.env equal to those of
 * `settings` (set, or removed when the settings lack them), then puts the
 * previous values back.
 */
export async function withIdentityEnvironment<T>(settings: Environment, use: () => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const names = new Set([...Object.keys(env), ...Object.keys(settings)].filter(isIdentityVariable));
  const saved = new Map<string, string | undefined>();
  for (const name of names) {
    if (env[name] === settings[name]) continue;
    saved.set(name, env[name]);
    assign(env, name, settings[name]);
  }
  try {
    return await use();
  } finally {
    for (const [name, value] of saved) assign(env, name, value);
  }
}

function assign(env: NodeJS.ProcessEnv, name: string, value: string | undefined): void {
  if (value === undefined) delete env[name];
  else env[name] = value;
}
