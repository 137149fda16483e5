/** Settings of the Key Vault secret source, federation, the monitor timer, alerts and rotation. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, keyVaultOf, loadConfig, type Environment, type RelayConfig } from '../../../src/settings';
import { redact } from '../../../src/core/redact';

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const BASE: Environment = {
  OAUTH2_TENANT_ID: TENANT,
  OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
  SMTP_USER: 'relay@contoso.com',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};
const VAULT: Environment = { ...BASE, KEYVAULT_URL: 'https://relay-kv.vault.azure.net/', OAUTH2_CLIENT_SECRET_NAME: 'smtp-client-secret' };

/** The value of OAUTH2_CLIENT_SECRET, when the client secret comes from that setting. */
function settingSecretOf(config: RelayConfig): string | undefined {
  return config.auth.kind === 'clientSecret' && config.auth.source.kind === 'setting' ? config.auth.source.clientSecret : undefined;
}

function problems(env: Environment): Array<[string, string]> {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((item) => [item.setting, item.problem]);
  }
  assert.fail('accepted');
}

describe('client secret from Key Vault', () => {
  it('needs only the vault URL and the secret name: no secret in the settings', () => {
    const config = loadConfig(VAULT);
    assert.deepEqual(keyVaultOf(config.auth), { vaultUrl: 'https://relay-kv.vault.azure.net', secretName: 'smtp-client-secret', cacheMs: 3_600_000 });
    assert.equal(settingSecretOf(config), undefined);
  });

  it('takes the user-assigned identity and the cache lifetime', () => {
    const config = loadConfig({ ...VAULT, MANAGED_IDENTITY_CLIENT_ID: '11111111-2222-4333-8444-555555555555', OAUTH2_CLIENT_SECRET_CACHE_SECONDS: '300' });
    assert.equal(keyVaultOf(config.auth)?.managedIdentityClientId, '11111111-2222-4333-8444-555555555555');
    assert.equal(keyVaultOf(config.auth)?.cacheMs, 300_000);
  });

  it('refuses half a Key Vault setup, a vault URL with a path or http, a bad name, both a vault and a secret', () => {
    assert.deepEqual(
      problems({ ...BASE, OAUTH2_CLIENT_SECRET_NAME: 'x' }).map(([setting]) => setting),
      ['KEYVAULT_URL'],
    );
    assert.deepEqual(
      problems({ ...BASE, KEYVAULT_URL: 'https://relay-kv.vault.azure.net' }).map(([setting]) => setting),
      ['OAUTH2_CLIENT_SECRET_NAME'],
    );
    assert.deepEqual(
      problems({ ...VAULT, KEYVAULT_URL: 'https://relay-kv.vault.azure.net/secrets/x' }).map(([setting]) => setting),
      ['KEYVAULT_URL'],
    );
    assert.deepEqual(
      problems({ ...VAULT, KEYVAULT_URL: 'http://relay-kv.vault.azure.net' }).map(([setting]) => setting),
      ['KEYVAULT_URL'],
    );
    assert.deepEqual(
      problems({ ...VAULT, OAUTH2_CLIENT_SECRET_NAME: 'has_underscore' }).map(([setting]) => setting),
      ['OAUTH2_CLIENT_SECRET_NAME'],
    );
    const both = problems({ ...VAULT, OAUTH2_CLIENT_SECRET: 'Qx8~a-secret-value-here' });
    assert.deepEqual(
      both.map(([setting]) => setting),
      ['OAUTH2_CLIENT_SECRET'],
    );
    assert.ok(!both[0]![1].includes('Qx8~a-secret-value-here'));
    assert.deepEqual(
      problems({ ...VAULT, OAUTH2_CLIENT_SECRET_CACHE_SECONDS: '5' }).map(([setting]) => setting),
      ['OAUTH2_CLIENT_SECRET_CACHE_SECONDS'],
    );
    assert.deepEqual(
      problems({ ...VAULT, MANAGED_IDENTITY_CLIENT_ID: 'my-identity' }).map(([setting]) => setting),
      ['MANAGED_IDENTITY_CLIENT_ID'],
    );
  });

  it('still asks for a secret when neither Key Vault nor federation is configured', () => {
    assert.match(problems(BASE)[0]![1], /KEYVAULT_URL/);
  });
});

describe('secretless mode (managed-identity federation)', () => {
  it('needs no secret and carries the identity', () => {
    const config = loadConfig({ ...BASE, OAUTH2_AUTH_MODE: 'managed-identity-federation', MANAGED_IDENTITY_CLIENT_ID: '11111111-2222-4333-8444-555555555555' });
    assert.deepEqual(config.auth.kind === 'federation' ? config.auth.federation : undefined, {
      managedIdentityClientId: '11111111-2222-4333-8444-555555555555',
    });
    assert.equal(settingSecretOf(config), undefined);
  });

  it('refuses a secret beside it, and a provider other than Microsoft', () => {
    assert.deepEqual(
      problems({ ...BASE, OAUTH2_AUTH_MODE: 'managed-identity-federation', OAUTH2_CLIENT_SECRET: 'Qx8~value' }).map(([s]) => s),
      ['OAUTH2_CLIENT_SECRET'],
    );
    const generic = {
      ...BASE,
      OAUTH2_TENANT_ID: undefined,
      OAUTH2_PROVIDER: 'generic',
      OAUTH2_TOKEN_URL: 'https://idp.example.com/token',
      OAUTH2_AUTH_MODE: 'managed-identity-federation',
    };
    assert.deepEqual(
      problems(generic).map(([s]) => s),
      ['OAUTH2_AUTH_MODE'],
    );
  });
});

describe('monitor, alerts and rotation settings', () => {
  it('has working defaults', () => {
    const monitor = loadConfig(VAULT).monitor;
    assert.deepEqual(monitor, {
      schedule: '0 */15 * * * *',
      warningDays: 30,
      criticalDays: 7,
      stateContainer: 'relay-monitor',
      rotation: { enabled: false, windowDays: 30, lifetimeDays: 180, graceMs: 24 * 3_600_000, graphUrl: 'https://graph.microsoft.com' },
    });
  });

  it('checks the schedule, the windows, the alert address and the webhook (a secret)', () => {
    assert.deepEqual(
      problems({ ...VAULT, MONITOR_SCHEDULE: '*/15 * * * *' }).map(([s]) => s),
      ['MONITOR_SCHEDULE'],
    );
    assert.deepEqual(
      problems({ ...VAULT, ALERT_WARNING_DAYS: '5', ALERT_CRITICAL_DAYS: '10' }).map(([s]) => s),
      ['ALERT_CRITICAL_DAYS'],
    );
    assert.deepEqual(
      problems({ ...VAULT, ALERT_EMAIL_TO: 'ops team' }).map(([s]) => s),
      ['ALERT_EMAIL_TO'],
    );
    const hook = 'http://hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXX';
    const [[setting, problem]] = problems({ ...VAULT, ALERT_WEBHOOK_URL: hook }) as [[string, string]];
    assert.equal(setting, 'ALERT_WEBHOOK_URL');
    assert.ok(!problem.includes('XXXXXXXXXXXXXXXX'));
    const secretHook = 'https://hooks.example.com/services/T111/B111/YYYYYYYYYYYYYYYY';
    assert.equal(loadConfig({ ...VAULT, ALERT_WEBHOOK_URL: secretHook }).monitor.alertWebhookUrl, secretHook);
    assert.equal(redact(`posting to ${secretHook}`), 'posting to [redacted]');
  });

  it('allows rotation only with Key Vault, a lifetime beyond the window and a grace beyond the secret cache', () => {
    assert.equal(loadConfig({ ...VAULT, ROTATION_ENABLED: 'true' }).monitor.rotation.enabled, true);
    assert.deepEqual(
      problems({ ...BASE, OAUTH2_CLIENT_SECRET: 'Qx8~value-of-secret', ROTATION_ENABLED: 'true' }).map(([s]) => s),
      ['ROTATION_ENABLED'],
    );
    assert.deepEqual(
      problems({ ...VAULT, ROTATION_ENABLED: 'true', ROTATION_SECRET_LIFETIME_DAYS: '30', ROTATION_WINDOW_DAYS: '30' }).map(([s]) => s),
      ['ROTATION_SECRET_LIFETIME_DAYS'],
    );
    assert.deepEqual(
      problems({ ...VAULT, ROTATION_ENABLED: 'true', ROTATION_GRACE_HOURS: '1', OAUTH2_CLIENT_SECRET_CACHE_SECONDS: '7200' }).map(([s]) => s),
      ['ROTATION_GRACE_HOURS'],
    );
  });
});
