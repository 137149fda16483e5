/** setup --provider google: setup-google.sh's steps, its quoting, and the values it refuses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
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
