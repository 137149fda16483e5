/**
 * Nothing the operator typed is printed back where it could be a secret: the doctor (as a
 * program, text and --json) and the health answer show a misplaced secret no more than the
 * settings problems do (test/unit/settings/settingsEcho.test.ts), and a secret the token
 * endpoint echoes in an encoded form (the request's form body) is masked too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/settings';
import { createHealthHandler } from '../../../src/http/health';
import { createRelayComponents } from '../../../src/app/components';
import { diagnosticTarget } from '../../../src/app/diagnostics';
import { silentLogger } from '../../../src/core/log';
import { httpInput, httpResponse } from '../../../functions/lib/http';
import { HttpRequest } from '@azure/functions';
import { tempDir } from '../../support/localHelpers';
import { CLIENT_ID, CLIENT_SECRET, startLocalTenant, type LocalTenant } from '../../support/localSetup';
import { BUILD_ROOT } from '../../support/paths';
import { PASTED, SAS_URI, SIGNATURE, assertNoPieceOf } from '../../support/secretEcho';

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
