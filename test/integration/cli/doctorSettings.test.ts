/**
 * `doctor --settings` as the README describes it: every value of the file
 * reaches every credential, the managed identity endpoint settings too
 * (IDENTITY_ENDPOINT, IDENTITY_HEADER), which @azure/identity reads from the
 * process environment only. The command runs in a child process with nothing
 * but PATH in its environment, against the KeyVaultDouble and the
 * ManagedIdentityDouble (whose tokens the local Entra-shaped endpoint mints);
 * and `./dev doctor` runs the same command.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_CLIENT_ID } from '../../../local/stack';
import { VAULT_RESOURCE } from '../../../local/doubles/keyVaultDouble';
import { ManagedIdentityDouble } from '../../doubles/managedIdentityDouble';
import { tempDir } from '../../support/localHelpers';
import { startRelayVaultStack, type RelayVaultStack } from '../../support/relayVaultStack';
import { PACKAGE_ROOT, runCommand, runProcess } from '../../support/command';

const IDENTITY_CLIENT = 'f00dbabe-0000-4000-8000-0000000000d0';
const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

let kv: RelayVaultStack;
let identity: ManagedIdentityDouble;
let dir: string;

before(async () => {
  kv = await startRelayVaultStack();
  const tokens = kv.stack.tokenServer;
  // The Function App's user-assigned identity, known to Entra, and trusted by the app registration for secretless sign-in.
  tokens.setClientSecret(IDENTITY_CLIENT, 'identity-has-no-usable-secret-000');
  tokens.addFederatedCredential(LOCAL_CLIENT_ID, {
    issuer: tokens.accessTokenIssuer,
    subject: tokens.objectIdOf(IDENTITY_CLIENT)!,
    audience: EXCHANGE_AUDIENCE,
  });
  identity = await ManagedIdentityDouble.start({
    clientId: IDENTITY_CLIENT,
    issue: (resource) => tokens.issueToken({ aud: resource, appid: IDENTITY_CLIENT }),
  });
  dir = await tempDir('relay-doctor-settings-');
});

after(async () => {
  await identity?.close();
  await kv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A local.settings.json as `func start` reads it, with the identity endpoint the App Service sandbox would set. */
function settingsFile(name: string, values: Record<string, string | undefined>): string {
  const path = join(dir, name);
  const identityValues = { MANAGED_IDENTITY_CLIENT_ID: IDENTITY_CLIENT, IDENTITY_ENDPOINT: identity.endpoint, IDENTITY_HEADER: identity.header };
  writeFileSync(path, JSON.stringify({ IsEncrypted: false, Values: { FUNCTIONS_WORKER_RUNTIME: 'node', ...values, ...identityValues } }));
  return path;
}

function assertNoSecrets(text: string): void {
  assert.ok(!text.includes(kv.stack.clientSecret), 'no client secret in the output');
  assert.ok(!text.includes(identity.header), 'no identity header in the output');
  assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}/, 'no token in the output');
}

test('the client secret in Key Vault: read with the managed identity whose endpoint the settings file names', async () => {
  const file = settingsFile('keyvault.settings.json', kv.settings());
  const before = identity.resources.length;
  const result = await runCommand(['doctor', '--settings', file]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /\[ ok \] Client secret is available/);
  assert.match(result.stdout, /All checks passed/);
  assert.deepEqual(identity.resources.slice(before), [VAULT_RESOURCE], 'the vault token came from the managed identity endpoint');
  assertNoSecrets(result.stdout + result.stderr);
});

test('secretless sign-in (managed-identity federation): the client assertion comes from the endpoint the settings file names', async () => {
  const { OAUTH2_CLIENT_SECRET: _none, ...settings } = kv.stack.settings;
  const file = settingsFile('federation.settings.json', { ...settings, OAUTH2_AUTH_MODE: 'managed-identity-federation' });
  const before = identity.resources.length;
  const result = await runCommand(['doctor', '--settings', file]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /All checks passed/);
  assert.ok(identity.resources.slice(before).includes(EXCHANGE_AUDIENCE), `the identity was asked for ${EXCHANGE_AUDIENCE}`);
  assertNoSecrets(result.stdout + result.stderr);
});

test('`./dev doctor --settings FILE` runs the command from the caller’s folder, with a clean --json on stdout; `./dev setup` too', async () => {
  // A copy of ./dev beside the real build, its packages counted as installed: the test must never run npm ci or a build.
  const project = join(dir, 'project');
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  copyFileSync(join(PACKAGE_ROOT, 'dev'), join(project, 'dev'));
  writeFileSync(join(project, 'package-lock.json'), '{}');
  utimesSync(join(project, 'package-lock.json'), new Date('2000-01-01'), new Date('2000-01-01'));
  writeFileSync(join(project, 'node_modules', '.package-lock.json'), '{}');
  symlinkSync(join(PACKAGE_ROOT, 'dist'), join(project, 'dist'));
  const caller = join(dir, 'caller');
  mkdirSync(caller);
  writeFileSync(join(caller, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: kv.stack.settings }));
  const env = { PATH: process.env.PATH };

  const text = await runProcess('bash', [join(project, 'dev'), 'doctor', '--settings', 'local.settings.json'], { cwd: caller, env });
  assert.equal(text.status, 0, text.stdout + text.stderr);
  assert.match(text.stdout, /All checks passed/);

  const json = await runProcess('bash', [join(project, 'dev'), 'doctor', '--settings', 'local.settings.json', '--json'], { cwd: caller, env });
  assert.equal(json.status, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, true);

  const setup = await runProcess(
    'bash',
    [
      join(project, 'dev'),
      'setup',
      '--tenant-id',
      'contoso.onmicrosoft.com',
      '--client-id',
      LOCAL_CLIENT_ID,
      '--object-id',
      IDENTITY_CLIENT,
      '--mailbox',
      'relay@contoso.com',
    ],
    { cwd: caller, env },
  );
  assert.equal(setup.status, 0, setup.stderr);
  // The scripts land in the caller's folder, not the project's.
  assert.match(setup.stdout, /Wrote .*\/caller\/relay-setup\/setup-exchange\.ps1/);
  assert.match(readFileSync(join(caller, 'relay-setup', 'setup-exchange.ps1'), 'utf8'), /New-ServicePrincipal/);
});
