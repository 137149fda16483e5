import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeSettings, loadConfig, oauthOf } from '../../../src/settings';

const COMMON_BRIEF_SETTINGS = [
  'SMTP_HOST',
  'SMTP_PORT',
  'SMTP_SECURITY',
  'SMTP_POOL_SIZE',
  'SMTP_CONNECTION_TIMEOUT_MS',
  'SMTP_GREETING_TIMEOUT_MS',
  'SMTP_SOCKET_TIMEOUT_MS',
  'TLS_EXTRA_CA_FILE',
  'OAUTH2_ENABLED',
  'OAUTH2_PROVIDER',
  'OAUTH2_TENANT_ID',
  'OAUTH2_AUTHORITY_HOST',
  'OAUTH2_TOKEN_URL',
  'OAUTH2_CLIENT_ID',
  'OAUTH2_CLIENT_SECRET',
  'OAUTH2_SCOPES',
  'OAUTH2_REFRESH_MARGIN_SECONDS',
  'SMTP_USER',
  'SMTP_PASSWORD',
  'MAIL_FROM',
  'MAIL_ALLOWED_FROM',
  'MAIL_MAX_RECIPIENTS',
  'RELAY_QUEUE_NAME',
  'RELAY_DEADLETTER_QUEUE_NAME',
  'RELAY_DEADLETTER_CONTAINER',
  'RELAY_MAX_DEQUEUE_COUNT',
  'AzureWebJobsStorage',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__clientId',
];

describe('describeSettings', () => {
  const settings = describeSettings();

  it('lists every setting of the project once, each with a one-line description', () => {
    const names = settings.map((setting) => setting.name);
    for (const name of COMMON_BRIEF_SETTINGS) assert.ok(names.includes(name), name);
    assert.equal(new Set(names).size, names.length);
    for (const setting of settings) {
      assert.ok(setting.description.length > 10, setting.name);
      assert.ok(!setting.description.includes('\n'), setting.name);
    }
  });

  it('states the Microsoft 365 defaults', () => {
    const defaults = Object.fromEntries(settings.map((setting) => [setting.name, setting.default]));
    assert.equal(defaults.SMTP_HOST, 'smtp.office365.com');
    assert.equal(defaults.SMTP_PORT, '587');
    assert.equal(defaults.OAUTH2_SCOPES, 'https://outlook.office365.com/.default');
    assert.equal(defaults.OAUTH2_REFRESH_MARGIN_SECONDS, '600');
    assert.equal(defaults.MAIL_MAX_RECIPIENTS, '100 for smtp.gmail.com, otherwise 500');
    assert.equal(defaults.RELAY_MAX_DEQUEUE_COUNT, '5');
  });

  it('gives defaults that loadConfig accepts and applies', () => {
    const literal = Object.fromEntries(
      settings
        .filter((setting) => setting.default !== undefined && /^[^ ]+$/.test(setting.default) && setting.default !== 'SMTP_USER')
        .map((setting) => [setting.name, setting.default]),
    );
    const config = loadConfig({
      ...literal,
      OAUTH2_TENANT_ID: 'contoso.onmicrosoft.com',
      OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
      OAUTH2_CLIENT_SECRET: 'Qx8~secret-value',
      SMTP_USER: 'relay@contoso.com',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    });
    assert.equal(config.smtp.port, 587);
    assert.equal(oauthOf(config.auth)?.provider, 'microsoft');
  });

  it('returns copies, so callers cannot change the list', () => {
    settings[0]!.description = 'changed';
    assert.notEqual(describeSettings()[0]!.description, 'changed');
  });
});
