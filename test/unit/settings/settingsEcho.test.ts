/**
 * Nothing the operator typed is printed back where it could be a secret: settings problems
 * show a value only when its shape is safe (a GUID, a host name, a URL without user info or
 * query...), else its length. The doctor (as a program, text and --json) and the health
 * answer say the same, and mask a secret the token endpoint echoes in an encoded form:
 * test/integration/redaction/settingsEcho.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, type Environment } from '../../../src/settings';
import { PASTED, SAS_URI, SIGNATURE, assertNoPieceOf } from '../../support/secretEcho';

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
    {
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net',
      AzureWebJobsStorage__clientId: PASTED,
    },
    { AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: PASTED },
    {
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net',
      AzureWebJobsStorage__blobServiceUri: PASTED,
    },
  ];
  for (const wrong of wrongSettings) {
    const [setting] = Object.keys(wrong).filter((name) => wrong[name] !== undefined && (wrong[name] === PASTED || wrong[name].includes(PASTED)));
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
