/** setup --provider google: setup-google.sh's steps, its quoting, and the values it refuses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/app/cli';
import { checkGoogleSetupValues, googleScript } from '../../../src/cli/setupGoogleScript';

const VALUES = { project: 'relay-project', mailbox: 'relay@example.com', keyVault: 'relay-kv' };

describe('setup --provider google', () => {
  it('creates the service account and a key, stores the key in Key Vault with its expiry, deletes the file, and prints the delegation step', () => {
    const script = googleScript(VALUES, new Date('2026-12-02T00:00:00Z'));
    assert.match(script, /gcloud iam service-accounts create "\$service_account" --project "\$project"/);
    assert.match(script, /--format 'value\(oauth2ClientId\)'/);
    assert.match(script, /gcloud iam service-accounts keys create "\$key_file" --iam-account "\$sa_email"/);
    assert.match(
      script,
      /az keyvault secret set --vault-name "\$key_vault" --name "\$secret_name" --file "\$key_file" --content-type application\/json "\$\{expires\[@\]\}"/,
    );
    assert.match(script, /trap 'rm -rf -- "\$key_dir"' EXIT/);
    assert.ok(script.indexOf('rm -rf -- "$key_dir"\n') > script.indexOf('az keyvault secret set'), 'the file is deleted after it is stored');
    assert.match(script, /Manage Domain Wide Delegation -> Add new/);
    assert.match(script, /Client ID: {4}\$client_id/);
    assert.match(script, /scope='https:\/\/mail\.google\.com\/'/);
    assert.match(script, /OAUTH2_PROVIDER=google/);
    assert.ok(!/cat "\$key_file"|echo .*key_file/.test(script), 'the key is never printed');
  });

  it('single-quotes every value given', () => {
    const script = googleScript({ ...VALUES, mailbox: "o'brien@example.com" }, new Date());
    assert.match(script, /mailbox='o'\\''brien@example\.com'/);
  });

  it('refuses values that are not what they claim to be', () => {
    assert.deepEqual(checkGoogleSetupValues({ project: 'Bad Project', mailbox: 'nobody', keyVault: 'x' }), [
      '--project: the Google Cloud project ID (6 to 30 lower-case letters, digits and hyphens)',
      '--mailbox: the Workspace mailbox to send as, e.g. relay@example.com',
      '--key-vault: the Key Vault name the key is stored in (3 to 24 letters, digits and hyphens)',
    ]);
    assert.deepEqual(checkGoogleSetupValues(VALUES), []);
  });
});

describe('the setup command with --provider google', () => {
  it('writes setup-google.sh (0755) to --out, prints what to run, and exits 0; wrong values exit 2 and write nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-setup-google-'));
    try {
      const io = { env: {}, out: (text: string) => (io.stdout += text), err: (text: string) => (io.stderr += text), stdout: '', stderr: '' };
      const args = ['setup', '--provider', 'google', '--project', 'relay-project', '--mailbox', 'relay@example.com', '--key-vault', 'relay-kv', '--out', dir];
      assert.equal(await main(args, io), 0, io.stderr);
      const file = join(dir, 'setup-google.sh');
      assert.equal(statSync(file).mode & 0o777, 0o755);
      assert.match(readFileSync(file, 'utf8'), /^project='relay-project'$/m);
      assert.match(io.stdout, /the client ID with scope https:\/\/mail\.google\.com\//);
      const bad = { ...io, stdout: '', stderr: '' };
      const other = mkdtempSync(join(tmpdir(), 'relay-setup-google-bad-'));
      try {
        assert.equal(
          await main(['setup', '--provider', 'google', '--project', 'X', '--mailbox', 'relay@example.com', '--key-vault', 'relay-kv', '--out', other], bad),
          2,
        );
        assert.equal(existsSync(join(other, 'setup-google.sh')), false);
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
