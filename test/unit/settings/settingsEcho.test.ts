/**
 * Nothing the operator typed is printed back where it could be a secret: settings problems
 * show a value only when its shape is safe (a GUID, a host name, a URL without user info or
 * query...), else its length; the doctor (as a program, text and --json) and the health
 * answer say the same; and a secret the token endpoint echoes in an encoded form (the
 * request's form body) is masked too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Environment } from '../../../src/settings';
import { createHealthHandler } from '../../../src/http/health';
import { createRelayComponents } from '../../../src/app/components';
import { diagnosticTarget } from '../../../src/app/diagnostics';
import { silentLogger } from '../../../src/core/log';
import { httpInput, httpResponse } from '../../../functions/lib/http';
import { HttpRequest } from '@azure/functions';
import { tempDir } from '../../support/localHelpers';
import { CLIENT_ID, CLIENT_SECRET, startLocalTenant, type LocalTenant } from '../../support/localSetup';
import { BUILD_ROOT } from '../../support/paths';

/** A new client secret, pasted into the wrong setting: registered nowhere, so only the echo rules keep it in. */
const PASTED = 'Xk7Q~pR2v9LmZt4Wq1Hs8Nd3Fb6Gy0Jc5Ue.Ao';
/** A SAS signature in a service URI's query, where a producer of such URIs puts it (first). */
const SIGNATURE = 'Zx9aBcDeFgHiJkLmNoPqRsTuVwXy0123456789';
const SAS_URI = `http://relaystore.queue.core.windows.net/?sig=${SIGNATURE}%3D&sv=2022-11-02&ss=q&srt=sco&sp=rwdlacup`;

/** Not even a few characters of the secret: no 5-character piece of it appears. */
function assertNoPieceOf(secret: string, text: string, what: string): void {
  for (let i = 0; i + 5 <= secret.length; i++) {
    const piece = secret.slice(i, i + 5);
    assert.ok(!text.includes(piece), `${what} shows "${piece}" of the secret:\n${text}`);
  }
}

function problemsOf(env: Environment): ConfigError {
  try {
    loadConfig(env, () => {
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('the settings were accepted');
}

describe('settings problems print a value only when it is safe by shape', () => {
  const base: Environment = {
    OAUTH2_TENANT_ID: '7a1c0de0-0000-4000-8000-00000000cafe',
    OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
    OAUTH2_CLIENT_SECRET: 'the-right-secret~0123456789',
    SMTP_USER: 'relay@contoso.com',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  };
  // Every setting whose problem used to quote the value, given the secret instead of what it expects.
  const wrongSettings: Environment[] = [
    { SMTP_PORT: PASTED },
    { SMTP_POOL_SIZE: PASTED },
    { OAUTH2_PROVIDER: PASTED },
    { SMTP_SECURITY: PASTED },
    { SMTP_USER: PASTED },
    { MAIL_FROM: PASTED },
    { MAIL_ALLOWED_FROM: PASTED },
    { ALERT_EMAIL_TO: PASTED },
    { SMTP_HOST: PASTED },
    { SMTP_HOST: `https://${PASTED}` },
    { TLS_EXTRA_CA_FILE: PASTED },
    { OAUTH2_TENANT_ID: PASTED },
    { OAUTH2_AUTHORITY_HOST: PASTED },
    { OAUTH2_TOKEN_URL: PASTED },
    { OAUTH2_TOKEN_URL: `http://login.example/${PASTED}` },
    { OAUTH2_CLIENT_ID: PASTED },
    { MANAGED_IDENTITY_CLIENT_ID: PASTED },
    { KEYVAULT_URL: PASTED, OAUTH2_CLIENT_SECRET: undefined, OAUTH2_CLIENT_SECRET_NAME: 'relay-secret' },
    { KEYVAULT_URL: 'https://relay.vault.azure.net', OAUTH2_CLIENT_SECRET: undefined, OAUTH2_CLIENT_SECRET_NAME: PASTED },
    { OAUTH2_SCOPES: PASTED },
    { MONITOR_SCHEDULE: PASTED },
    { GRAPH_URL: PASTED },
    { RELAY_QUEUE_NAME: PASTED },
    { RELAY_LEDGER_CONTAINER: PASTED },
    { AzureWebJobsStorage: undefined, AzureWebJobsStorage__accountName: PASTED },
    { AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net', AzureWebJobsStorage__clientId: PASTED },
    { AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: PASTED },
    { AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net', AzureWebJobsStorage__blobServiceUri: PASTED },
  ];
  for (const wrong of wrongSettings) {
    const [setting] = Object.keys(wrong).filter((name) => wrong[name] !== undefined && (wrong[name] === PASTED || wrong[name]!.includes(PASTED)));
    test(`${setting} = ${wrong[setting!] === PASTED ? 'a secret' : wrong[setting!]!.replace(PASTED, '<secret>')}`, () => {
      const error = problemsOf({ ...base, ...wrong });
      const problem = error.problems.find((item) => item.setting === setting);
      assert.ok(problem, `a problem for ${setting}: ${error.message}`);
      assertNoPieceOf(PASTED, error.message, 'the problem');
      assert.match(problem.problem, /\(a value of \d+ characters, not shown\)|\(its path not shown\)/);
    });
  }

  test('a service URI with a SAS token shows its host and path, never its query', () => {
    const error = problemsOf({ ...base, AzureWebJobsStorage: '', AzureWebJobsStorage__queueServiceUri: SAS_URI });
    const problem = error.problems.find((item) => item.setting === 'AzureWebJobsStorage__queueServiceUri');
    assert.equal(problem?.problem, '"http://relaystore.queue.core.windows.net/" (its query not shown) must be an https:// service URI');
    assertNoPieceOf(SIGNATURE, error.message, 'the problem');
  });

  test('values safe by shape are still shown, so the operator sees the typo', () => {
    const error = problemsOf({
      ...base,
      SMTP_HOST: 'smtp.office365.com:587',
      OAUTH2_CLIENT_ID: 'relay-app',
      MANAGED_IDENTITY_CLIENT_ID: '0c6b2d55-27a4-4f6e-9d7b',
      KEYVAULT_URL: 'http://relay.vault.azure.net',
      OAUTH2_CLIENT_SECRET: undefined,
      OAUTH2_CLIENT_SECRET_NAME: 'relay-secret',
      TLS_EXTRA_CA_FILE: '/home/site/wwwroot/ca.pem',
      MONITOR_SCHEDULE: '0 */5 * * *',
    });
    const says = Object.fromEntries(error.problems.map((item) => [item.setting, item.problem]));
    assert.match(says.SMTP_HOST!, /^"smtp\.office365\.com:587" includes a port/);
    assert.match(says.OAUTH2_CLIENT_ID!, /^"relay-app" is not an Application \(client\) ID/);
    assert.match(says.MANAGED_IDENTITY_CLIENT_ID!, /^"0c6b2d55-27a4-4f6e-9d7b" is not/);
    assert.match(says.KEYVAULT_URL!, /^"http:\/\/relay\.vault\.azure\.net" must be a vault URI/);
    assert.match(says.TLS_EXTRA_CA_FILE!, /^cannot read "\/home\/site\/wwwroot\/ca\.pem" \(ENOENT\)/);
    assert.match(says.MONITOR_SCHEDULE!, /^"0 \*\/5 \* \* \*" is not a six-field NCRONTAB/);
  });

  test('a value that holds a registered secret is described as such', () => {
    // Registered by this load (the process-wide redactor keeps it): a value of its own.
    const secret = 'Pm3R~vT8x2QwLs9Zk4Nb7Hd1Jf6Gc0Ya5Ue.Bo';
    const error = problemsOf({ ...base, OAUTH2_CLIENT_SECRET: secret, MANAGED_IDENTITY_CLIENT_ID: secret });
    const problem = error.problems.find((item) => item.setting === 'MANAGED_IDENTITY_CLIENT_ID');
    assert.equal(problem?.problem, '(a value of 38 characters that contains a secret, not shown) is not a managed identity client ID (a GUID)');
    assertNoPieceOf(secret, error.message, 'the problem');
  });
});

describe('the doctor and the health answer', () => {
  let tenant: LocalTenant;
  let dir: string;
  before(async () => {
    tenant = await startLocalTenant();
    dir = await tempDir('relay-settings-echo-');
  });
  after(async () => {
    await tenant?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = join(BUILD_ROOT, 'src', 'cli', 'bin.js');

  /** The compiled command in a child process (asynchronously: the local servers live in this process). */
  function doctor(settings: Record<string, string>, json: boolean): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const file = join(dir, `settings-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: settings }));
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [cli, 'doctor', '--settings', file, ...(json ? ['--json'] : [])], { env: { PATH: process.env.PATH } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
    });
  }

  /** A secret in the wrong settings: the client ID, the Key Vault secret name, a service URI's query. */
  const misplaced = () =>
    tenant.settings({
      OAUTH2_CLIENT_ID: PASTED,
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__queueServiceUri: SAS_URI,
    });

  for (const json of [false, true]) {
    test(`doctor${json ? ' --json' : ''}: a secret pasted into the wrong setting is not printed back`, async () => {
      const run = await doctor(misplaced(), json);
      assert.equal(run.status, 1, run.stderr + run.stdout);
      const output = run.stdout + run.stderr;
      assertNoPieceOf(PASTED, output, 'the doctor');
      assertNoPieceOf(SIGNATURE, output, 'the doctor');
      if (json) assert.equal(JSON.parse(run.stdout).firstFailure.id, 'configuration');
      assert.match(output, /OAUTH2_CLIENT_ID: \(a value of 38 characters, not shown\) is not an Application \(client\) ID/);
      assert.match(output, /"http:\/\/relaystore\.queue\.core\.windows\.net\/\\?" \(its query not shown\)/);
    });

    test(`doctor${json ? ' --json' : ''}: a token endpoint that echoes the request form (secret URL-encoded) has it masked`, async () => {
      const requests = tenant.tokenServer.tokenRequests;
      tenant.tokenServer.failNext({
        status: 400,
        body: (form: string) => ({ error: 'invalid_request', error_description: `AADSTS900144: the request could not be read: ${form}` }),
      });
      const run = await doctor(tenant.settings({ OAUTH2_PROVIDER: 'generic', OAUTH2_TOKEN_URL: tenant.tokenServer.genericTokenUrl }), json);
      assert.equal(tenant.tokenServer.tokenRequests, requests + 1, 'the echoing reply was used');
      assert.equal(run.status, 1, run.stderr + run.stdout);
      const output = run.stdout + run.stderr;
      for (const encoded of [CLIENT_SECRET, encodeURIComponent(CLIENT_SECRET), new URLSearchParams([['', CLIENT_SECRET]]).toString().slice(1)]) {
        assert.ok(!output.includes(encoded), `shows ${encoded}:\n${output}`);
      }
      assert.ok(!output.includes('local-doctor-secret'), output);
      if (json) assert.equal(JSON.parse(run.stdout).firstFailure.id, 'token');
      assert.match(output, /client_secret=\[redacted\]/, 'the echo is shown, the secret masked');
      assert.ok(output.includes(`client_id=${CLIENT_ID}`), output);
    });
  }

  test('health: the answer for misplaced secrets names the settings without printing them', async () => {
    const handler = createHealthHandler(() => diagnosticTarget(() => createRelayComponents(loadConfig(misplaced()), silentLogger)));
    const response = httpResponse(await handler(httpInput(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }))));
    assert.equal(response.status, 503);
    const text = JSON.stringify(response.jsonBody);
    assertNoPieceOf(PASTED, text, 'the health answer');
    assertNoPieceOf(SIGNATURE, text, 'the health answer');
    assert.match(text, /OAUTH2_CLIENT_ID: \(a value of 38 characters, not shown\)/);
    assert.match(text, /AzureWebJobsStorage__queueServiceUri: \\"http:\/\/relaystore\.queue\.core\.windows\.net\/\\" \(its query not shown\)/);
  });
});
