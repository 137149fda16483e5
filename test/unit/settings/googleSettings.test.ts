/** Settings of OAUTH2_PROVIDER=google: the key (Key Vault or setting), its checks, Gmail's SMTP defaults and limits, RELAY_SENDERS entries. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, keyVaultOf, loadConfig, type Environment } from '../../../src/settings';
import { parseServiceAccountKey } from '../../../src/settings/googleKey';
import { redact } from '../../../src/core/redact';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const KEY = {
  type: 'service_account',
  project_id: 'relay-project',
  private_key_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  private_key: PEM,
  client_email: 'smtp-relay@relay-project.iam.gserviceaccount.com',
  client_id: '104512345678901234567',
  token_uri: 'https://oauth2.googleapis.com/token',
};
const KEY_JSON = JSON.stringify(KEY);

const BASE: Environment = { OAUTH2_PROVIDER: 'google', SMTP_USER: 'relay@example.com', AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
const VAULT: Environment = { ...BASE, KEYVAULT_URL: 'https://relay-kv.vault.azure.net/', OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'smtp-relay-google-key' };

function problems(env: Environment): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((item) => `${item.setting}: ${item.problem}`);
  }
  assert.fail('accepted');
}

describe('google provider', () => {
  it('reads the key from Key Vault, signs in as SMTP_USER with the Gmail scope, and defaults to smtp.gmail.com:587 with Gmail limits', () => {
    const config = loadConfig(VAULT);
    const auth = config.auth;
    assert.ok(auth.kind === 'clientSecret' && auth.provider === 'google');
    assert.equal(auth.subject, 'relay@example.com');
    assert.deepEqual(auth.scopes, ['https://mail.google.com/']);
    assert.equal(keyVaultOf(auth)?.secretName, 'smtp-relay-google-key', 'the monitor and the doctor find the vault item');
    assert.deepEqual([config.smtp.host, config.smtp.port, config.smtp.security], ['smtp.gmail.com', 587, 'starttls']);
    assert.equal(config.smtp.dailyRecipientLimit, 10_000);
    assert.equal(config.smtp.rateLimitPerMinute, 0, 'Google publishes no per-minute rate');
    assert.equal(config.mail.maxRecipients, 100);
  });

  it('port 465 means implicit TLS, and explicit limits win', () => {
    const config = loadConfig({ ...VAULT, SMTP_PORT: '465', MAIL_MAX_RECIPIENTS: '50', SMTP_DAILY_RECIPIENT_LIMIT: '2000' });
    assert.equal(config.smtp.security, 'implicit');
    assert.equal(config.mail.maxRecipients, 50);
    assert.equal(config.smtp.dailyRecipientLimit, 2000);
  });

  it('takes the key from OAUTH2_SERVICE_ACCOUNT_KEY for local runs, its client_id as the client ID', () => {
    const auth = loadConfig({ ...BASE, OAUTH2_SERVICE_ACCOUNT_KEY: KEY_JSON }).auth;
    assert.ok(auth.kind === 'clientSecret' && auth.source.kind === 'setting');
    assert.equal(auth.clientId, KEY.client_id);
  });

  it('lists what is wrong with a key without echoing any of it', () => {
    const bad = JSON.stringify({
      ...KEY,
      type: 'authorized_user',
      private_key: PEM.replace('PRIVATE KEY', 'RSA PRIVATE KEY'),
      token_uri: 'http://oauth2.googleapis.com/token',
      client_id: 'abc',
    });
    const listed = problems({ ...BASE, OAUTH2_SERVICE_ACCOUNT_KEY: bad });
    assert.deepEqual(listed, [
      'OAUTH2_SERVICE_ACCOUNT_KEY: "type" is not "service_account" (an OAuth client or user credential file does not sign in as a service account)',
      'OAUTH2_SERVICE_ACCOUNT_KEY: "client_id" is not the numeric client ID of a service account',
      'OAUTH2_SERVICE_ACCOUNT_KEY: "token_uri" must be an https:// URL (the signed assertion is sent to it)',
      'OAUTH2_SERVICE_ACCOUNT_KEY: "private_key" is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)',
    ]);
    assert.deepEqual(problems({ ...BASE, OAUTH2_SERVICE_ACCOUNT_KEY: 'not json at all' }), [
      'OAUTH2_SERVICE_ACCOUNT_KEY: is not JSON: it must be the service account key file as Google Cloud downloads it (a JSON object)',
    ]);
  });

  it('registers the private key with the redactor as soon as the key is parsed', () => {
    assert.ok('key' in parseServiceAccountKey(KEY_JSON));
    const line = PEM.split('\n')[3]!;
    assert.ok(!redact(`echo ${PEM}`).includes(line));
  });

  it('refuses Microsoft settings, a second key source, a missing key and a wrong client ID', () => {
    assert.deepEqual(problems({ ...VAULT, OAUTH2_TENANT_ID: 'contoso.com', OAUTH2_CLIENT_SECRET: 'x'.repeat(40) }).sort(), [
      'OAUTH2_CLIENT_SECRET: is set although OAUTH2_PROVIDER=google (it belongs to Microsoft Entra ID): remove it',
      'OAUTH2_TENANT_ID: is set although OAUTH2_PROVIDER=google (it belongs to Microsoft Entra ID): remove it',
    ]);
    assert.deepEqual(problems({ ...VAULT, OAUTH2_SERVICE_ACCOUNT_KEY: KEY_JSON }), [
      'OAUTH2_SERVICE_ACCOUNT_KEY: is set although the key is read from Key Vault (KEYVAULT_URL): remove it, so the key lives in one place only',
    ]);
    assert.deepEqual(problems(BASE), [
      "OAUTH2_SERVICE_ACCOUNT_KEY: is missing: OAUTH2_PROVIDER=google needs the service account's JSON key (or KEYVAULT_URL and OAUTH2_SERVICE_ACCOUNT_KEY_NAME)",
    ]);
    assert.deepEqual(problems({ ...BASE, OAUTH2_SERVICE_ACCOUNT_KEY: KEY_JSON, OAUTH2_CLIENT_ID: '999' }), [
      "OAUTH2_CLIENT_ID: 999 is not the client_id of the key in OAUTH2_SERVICE_ACCOUNT_KEY: remove it, or use that account's key",
    ]);
    assert.deepEqual(problems({ ...VAULT, OAUTH2_AUTH_MODE: 'certificate' }), [
      "OAUTH2_AUTH_MODE: certificate works only with Microsoft Entra ID; Google signs in with the service account's key",
    ]);
  });

  it('refuses the Google key settings for another provider', () => {
    const env: Environment = {
      OAUTH2_TENANT_ID: 'contoso.com',
      OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
      OAUTH2_CLIENT_SECRET: 'Xk7Q~pR2v9LmZt4Wq1Hs8Nd3Fb6Gy0Jc5Ue.Ao',
      SMTP_USER: 'relay@contoso.com',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      OAUTH2_SERVICE_ACCOUNT_KEY_NAME: 'smtp-relay-google-key',
    };
    assert.deepEqual(problems(env), ['OAUTH2_SERVICE_ACCOUNT_KEY_NAME: is set although OAUTH2_PROVIDER is not google: remove it']);
  });

  it('a RELAY_SENDERS google entry: its key by reference, smtp.gmail.com and Gmail limits beside a Microsoft default sender', () => {
    const env: Environment = {
      OAUTH2_TENANT_ID: 'contoso.com',
      OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
      SMTP_USER: 'relay@contoso.com',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      KEYVAULT_URL: 'https://relay-kv.vault.azure.net/',
      OAUTH2_CLIENT_SECRET_NAME: 'smtp-relay-secret',
      GOOGLE_KEY: KEY_JSON,
      RELAY_SENDERS: JSON.stringify([
        { id: 'gmail', provider: 'google', mailbox: 'relay@example.com', credential: { keyVaultSecret: 'smtp-relay-google-key' } },
        { id: 'gmail-local', provider: 'google', mailbox: 'other@example.com', credential: { secretSetting: 'GOOGLE_KEY' } },
      ]),
    };
    const [vault, local] = loadConfig(env).senders!;
    assert.ok(vault!.auth.kind === 'clientSecret' && vault!.auth.provider === 'google');
    assert.equal(vault!.auth.subject, 'relay@example.com');
    assert.equal(keyVaultOf(vault!.auth)?.secretName, 'smtp-relay-google-key');
    assert.deepEqual([vault!.smtp.host, vault!.smtp.port, vault!.smtp.dailyRecipientLimit, vault!.smtp.rateLimitPerMinute], ['smtp.gmail.com', 587, 10_000, 0]);
    assert.equal(vault!.mail.maxRecipients, 100);
    assert.ok(local!.auth.kind === 'clientSecret' && local!.auth.provider === 'google');
    assert.equal(local!.auth.clientId, KEY.client_id);
  });

  it('a RELAY_SENDERS google entry with federation, a tenant or a broken key is refused by path', () => {
    const env: Environment = {
      ...VAULT,
      BROKEN_KEY: '{"type":"service_account"}',
      RELAY_SENDERS: JSON.stringify([
        { id: 'a', provider: 'google', mailbox: 'a@example.com', tenant: 'contoso.com', credential: { federation: true } },
        { id: 'b', provider: 'google', mailbox: 'b@example.com', credential: { secretSetting: 'BROKEN_KEY' } },
      ]),
    };
    const listed = problems(env);
    assert.ok(
      listed.includes('RELAY_SENDERS[0].tenant: is not for the google provider: the token URI is the service account key\'s "token_uri"'),
      listed.join('\n'),
    );
    assert.ok(
      listed.includes(
        'RELAY_SENDERS[0].credential.federation: managed-identity federation works only with the microsoft provider; a google sender names its key',
      ),
    );
    assert.ok(
      listed.includes('RELAY_SENDERS[1].credential.secretSetting: the service account key in that app setting has no "client_email"'),
      listed.join('\n'),
    );
  });
});
