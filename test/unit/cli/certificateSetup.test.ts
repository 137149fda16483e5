/** The az steps of certificate mode: PEM content type, upload to the app, the identity's read role, the settings. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certificateSetupCommands, formatCertificateSetup } from '../../../src/cli/certificateSetup';

const INPUT = {
  vaultName: 'relay-kv',
  certificateName: 'smtp-relay-cert',
  clientId: '5e4d0000-0000-4000-8000-0000000000a1',
  functionApp: 'relay-fn',
  resourceGroup: 'rg-relay',
};

describe('certificateSetupCommands', () => {
  it('creates the certificate as PEM with auto-renewal, uploads it to the app, grants the read role and sets the mode', () => {
    const [create, upload, role, settings] = certificateSetupCommands(INPUT);
    const policyText = /--policy '(.*)'$/.exec(create!.command)![1]!;
    const policy = JSON.parse(policyText) as { secretProperties: { contentType: string }; keyProperties: { exportable: boolean }; lifetimeActions: unknown[] };
    assert.equal(policy.secretProperties.contentType, 'application/x-pem-file');
    assert.equal(policy.keyProperties.exportable, true);
    assert.equal(policy.lifetimeActions.length, 1);
    assert.match(create!.command, /^az keyvault certificate create --vault-name 'relay-kv' --name 'smtp-relay-cert'/);
    assert.equal(
      upload!.command,
      "az ad app credential reset --id '5e4d0000-0000-4000-8000-0000000000a1' --keyvault 'relay-kv' --cert 'smtp-relay-cert' --append",
    );
    assert.match(role!.command, /Key Vault Secrets User.*-g 'rg-relay' -n 'relay-fn'/);
    assert.match(
      settings!.command,
      /OAUTH2_AUTH_MODE=certificate "KEYVAULT_URL=https:\/\/relay-kv\.vault\.azure\.net" OAUTH2_CLIENT_CERTIFICATE_NAME='smtp-relay-cert'/,
    );
  });

  it('quotes what the operator typed, and prints one comment and one command per step', () => {
    const text = formatCertificateSetup({ ...INPUT, certificateName: "it's" });
    assert.match(text, /--name 'it'\\''s'/);
    assert.equal(text.split('\n\n').length, 5);
    assert.ok(text.split('\n\n').every((block) => /^# \d\. .+\naz /.test(block)));
  });
});
