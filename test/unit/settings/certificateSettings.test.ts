/** Settings of OAUTH2_AUTH_MODE=certificate: a Key Vault certificate or a PEM file, and the settings that contradict them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, keyVaultOf, loadConfig, type Environment, type CertificateAuth } from '../../../src/settings';

const BASE: Environment = {
  OAUTH2_TENANT_ID: '7a1c0de0-0000-4000-8000-00000000cafe',
  OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
  SMTP_USER: 'relay@contoso.com',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  OAUTH2_AUTH_MODE: 'certificate',
};
const VAULT: Environment = { ...BASE, KEYVAULT_URL: 'https://relay-kv.vault.azure.net/', OAUTH2_CLIENT_CERTIFICATE_NAME: 'smtp-relay-cert' };

function certificateAuth(env: Environment): CertificateAuth {
  const { auth } = loadConfig(env);
  assert.equal(auth.kind, 'certificate');
  return auth;
}

function problems(env: Environment): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((item) => `${item.setting}: ${item.problem}`);
  }
  assert.fail('accepted');
}

describe('certificate mode', () => {
  it('reads the certificate from Key Vault through the secret of the same name, without a client secret', () => {
    const auth = certificateAuth(VAULT);
    assert.deepEqual(auth.source, {
      kind: 'keyVault',
      keyVault: { vaultUrl: 'https://relay-kv.vault.azure.net', secretName: 'smtp-relay-cert', cacheMs: 3_600_000 },
    });
    assert.equal(keyVaultOf(auth)?.secretName, 'smtp-relay-cert', 'the monitor and the doctor find the vault item');
    assert.equal(auth.sendCertificateChain, false);
    assert.equal(auth.provider, 'microsoft');
  });

  it('takes a PEM file for local runs, and the chain setting', () => {
    const auth = certificateAuth({ ...BASE, OAUTH2_CLIENT_CERTIFICATE_PATH: '/secrets/relay.pem', OAUTH2_SEND_CERTIFICATE_CHAIN: 'true' });
    assert.deepEqual(auth.source, { kind: 'file', path: '/secrets/relay.pem' });
    assert.equal(auth.sendCertificateChain, true);
    assert.equal(keyVaultOf(auth), undefined);
  });

  it('needs a certificate from somewhere, and from one place only', () => {
    assert.match(problems(BASE).join('\n'), /OAUTH2_CLIENT_CERTIFICATE_PATH: is missing: OAUTH2_AUTH_MODE=certificate needs the PEM file/);
    assert.match(
      problems({ ...VAULT, OAUTH2_CLIENT_CERTIFICATE_PATH: '/x.pem' }).join('\n'),
      /OAUTH2_CLIENT_CERTIFICATE_PATH: is set although the certificate is read from Key Vault/,
    );
    assert.match(
      problems({ ...BASE, KEYVAULT_URL: 'https://relay-kv.vault.azure.net' }).join('\n'),
      /OAUTH2_CLIENT_CERTIFICATE_NAME: is missing: the name of the Key Vault certificate/,
    );
    assert.match(problems({ ...VAULT, OAUTH2_CLIENT_CERTIFICATE_NAME: 'bad_name' }).join('\n'), /is not a Key Vault certificate name/);
  });

  it('refuses a client secret or a secret name beside the certificate', () => {
    assert.match(
      problems({ ...VAULT, OAUTH2_CLIENT_SECRET: 'Qx8~value-of-a-secret' }).join('\n'),
      /OAUTH2_CLIENT_SECRET: is set although OAUTH2_AUTH_MODE=certificate uses no secret/,
    );
    assert.match(
      problems({ ...VAULT, OAUTH2_CLIENT_SECRET_NAME: 'smtp-secret' }).join('\n'),
      /OAUTH2_CLIENT_SECRET_NAME: is set although OAUTH2_AUTH_MODE=certificate reads no client secret/,
    );
  });

  it('refuses certificate settings in the other modes, rotation (Key Vault renews certificates) and generic providers', () => {
    const secretMode = { ...BASE, OAUTH2_AUTH_MODE: 'secret', OAUTH2_CLIENT_SECRET: 'Qx8~value-of-a-secret' };
    assert.match(
      problems({ ...secretMode, OAUTH2_CLIENT_CERTIFICATE_PATH: '/x.pem' }).join('\n'),
      /OAUTH2_CLIENT_CERTIFICATE_PATH: is set although OAUTH2_AUTH_MODE is not certificate/,
    );
    assert.match(
      problems({
        ...secretMode,
        KEYVAULT_URL: 'https://relay-kv.vault.azure.net',
        OAUTH2_CLIENT_SECRET: undefined,
        OAUTH2_CLIENT_SECRET_NAME: 's',
        OAUTH2_CLIENT_CERTIFICATE_NAME: 'c',
      }).join('\n'),
      /OAUTH2_CLIENT_CERTIFICATE_NAME: is set although OAUTH2_AUTH_MODE is not certificate/,
    );
    assert.match(problems({ ...VAULT, ROTATION_ENABLED: 'true' }).join('\n'), /ROTATION_ENABLED: rotation renews client secrets/);
    const generic = { ...VAULT, OAUTH2_TENANT_ID: undefined, OAUTH2_TOKEN_URL: 'https://idp.example.com/oauth2/token' };
    assert.match(problems(generic).join('\n'), /OAUTH2_AUTH_MODE: certificate works only with Microsoft Entra ID/);
  });
});
