/**
 * The diagnosis list is the one source of setup steps and remedies: every
 * remedy the classifiers give must be one of its entries, and every entry must
 * name real steps.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, type Environment } from '../../../src/settings';
import { RelayError } from '../../../src/core/errors';
import { DIAGNOSES, remedyOf, type DiagnosisId } from '../../../src/core/diagnoses';
import { SETUP_STEPS, stepLabel } from '../../../src/core/setupSteps';
import { diagnosisOfError, findingOfConfigError, findingOfError } from '../../../src/diagnostics/findings';
import { classifySmtpError } from '../../../src/smtp';
import { classifyTokenFailure } from '../../../src/token';
import { inKeyVaultTerms, parseTokenErrorBody } from '../../../src/token/classifyTokenError';

const ids = Object.keys(DIAGNOSES) as DiagnosisId[];

describe('the diagnosis list', () => {
  test('every entry has a symptom, a finding, a fix, and names existing setup steps', () => {
    for (const id of ids) {
      const entry = DIAGNOSES[id];
      assert.ok(entry.symptom.length > 5 && entry.finding.length > 10 && entry.fix.length > 10, id);
      for (const step of entry.steps) assert.ok(step in SETUP_STEPS, `${id}: ${step}`);
    }
  });

  test('a remedy ends with the setup steps it concerns, by name and number', () => {
    assert.match(remedyOf('invalid_client_secret'), /Setup step: Azure portal, step 6: client secret/);
    assert.match(remedyOf('exchange_access_missing'), /Exchange Online PowerShell, step 4: New-ServicePrincipal.*Exchange Online PowerShell, step 5/);
    assert.equal(remedyOf('quota_exceeded'), DIAGNOSES.quota_exceeded.fix, 'no step for an operational limit');
  });

  test('the diagnoses named by the issue exist and point at the guide', () => {
    const expected: Array<[DiagnosisId, keyof typeof SETUP_STEPS]> = [
      ['tenant_not_found', 'tenantId'],
      ['app_not_found', 'enterpriseApplication'],
      ['invalid_client_secret', 'clientSecret'],
      ['expired_client_secret', 'clientSecret'],
      ['invalid_scope', 'oauthSettings'],
      ['token_audience_not_exchange', 'oauthSettings'],
      ['token_role_missing', 'apiPermission'],
      ['smtp_auth_disabled', 'authenticatedSmtp'],
      ['exchange_access_missing', 'servicePrincipal'],
      ['exchange_access_missing', 'mailboxPermission'],
      ['send_as_denied', 'sendAs'],
      ['mailbox_logon_failed', 'authorizedUser'],
      ['smtp_unreachable', 'emailServer'],
      ['smtp_tls_failed', 'emailServer'],
    ];
    for (const [id, step] of expected) assert.ok((DIAGNOSES[id].steps as readonly string[]).includes(step), `${id} → ${step}`);
    assert.match(DIAGNOSES.exchange_access_missing.fix, /up to an hour/);
    assert.match(DIAGNOSES.exchange_access_missing.fix, /Enterprise application's Overview.*not the app registration's Object ID/);
  });
});

describe('classified failures map onto the list', () => {
  const entra = (status: number, error: string, code: number) =>
    classifyTokenFailure(parseTokenErrorBody(status, JSON.stringify({ error, error_description: `AADSTS${code}: text`, error_codes: [code] })));
  const smtp = (command: string, response: string) =>
    classifySmtpError(Object.assign(new Error(response), { code: 'EAUTH', command, response, responseCode: Number(response.slice(0, 3)) }));

  const table: Array<[string, RelayError, DiagnosisId]> = [
    ['AADSTS90002', entra(400, 'invalid_request', 90002), 'tenant_not_found'],
    ['AADSTS700016', entra(400, 'unauthorized_client', 700016), 'app_not_found'],
    ['AADSTS7000215', entra(401, 'invalid_client', 7000215), 'invalid_client_secret'],
    ['AADSTS7000222', entra(401, 'invalid_client', 7000222), 'expired_client_secret'],
    ['AADSTS1002012', entra(400, 'invalid_scope', 1002012), 'invalid_scope'],
    [
      'untrusted certificate at the token endpoint',
      classifyTokenFailure({ networkError: Object.assign(new Error('self-signed certificate'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }) }),
      'token_endpoint_tls',
    ],
    ['535 5.7.3', smtp('AUTH XOAUTH2', '535 5.7.3 Authentication unsuccessful'), 'smtp_auth_rejected'],
    ['535 5.7.139', smtp('AUTH XOAUTH2', '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled'), 'smtp_auth_disabled'],
    ['550 5.7.60', smtp('MAIL FROM', '550 5.7.60 SMTP; Client does not have permissions to send as this sender'), 'send_as_denied'],
    ['554 5.2.252', smtp('DATA', '554 5.2.252 SendAsDenied; a not allowed to send as b'), 'send_as_denied'],
    ['430 4.2.0 STOREDRV', smtp('MAIL FROM', '430 4.2.0 STOREDRV; mailbox logon failure'), 'mailbox_logon_failed'],
    ['550 5.7.30', smtp('AUTH RELAY-PASSWORD', '550 5.7.30 Basic authentication is not supported for Client Submission.'), 'basic_auth_unsupported'],
    [
      '554 5.2.2 mailbox full',
      smtp('DATA', '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded'),
      'mailbox_full',
    ],
    ['554 5.2.0 SubmissionQuotaExceeded', smtp('DATA', '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException'), 'quota_exceeded'],
    [
      '553 5.7.1 not owned by user',
      smtp('MAIL FROM', '553 5.7.1 <b@example.com>: Sender address rejected: not owned by user a@example.com'),
      'sender_not_owned',
    ],
  ];
  for (const [name, error, id] of table) {
    test(`${name} → ${id}, with the list's remedy and steps`, () => {
      assert.equal(diagnosisOfError(error), id);
      assert.equal(error.remedy, remedyOf(id));
      const finding = findingOfError(error);
      assert.deepEqual(
        finding.steps,
        DIAGNOSES[id].steps.map((step) => stepLabel(step)),
      );
      assert.equal(finding.providerReply, error.providerReply);
    });
  }

  test('a remedy filled with the Key Vault names still maps onto its diagnosis', () => {
    const where = { vaultUrl: 'https://relay-kv.vault.azure.net', secretName: 'smtp-relay' };
    const error = inKeyVaultTerms(entra(401, 'invalid_client', 7000215), where);
    assert.equal(diagnosisOfError(error), 'key_vault_secret_invalid');
    assert.equal(error.remedy, remedyOf('key_vault_secret_invalid', { vault: where.vaultUrl, 'secret name': '"smtp-relay"' }));
    assert.match(error.remedy, /new version of Key Vault secret "smtp-relay" in https:\/\/relay-kv\.vault\.azure\.net/);
    assert.equal(findingOfError(error).diagnosis, 'key_vault_secret_invalid');
  });

  test('a failure no diagnosis covers keeps its own words and remedy', () => {
    const error = new RelayError('something odd', { reason: 'internal_error', kind: 'transient', remedy: 'try later' });
    const finding = findingOfError(error);
    assert.equal(finding.diagnosis, undefined);
    assert.equal(finding.fix, 'try later');
  });
});

describe('settings problems', () => {
  const cases: Array<[string, ConfigError, DiagnosisId]> = [
    ['secret ID', configErrorOf({ OAUTH2_CLIENT_SECRET: '11111111-2222-4333-8444-555555555555' }), 'client_secret_is_id'],
    [
      'Key Vault reference',
      configErrorOf({ OAUTH2_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=https://relay-kv.vault.azure.net/secrets/x/)' }),
      'secret_unreadable',
    ],
    ['scope', configErrorOf({ OAUTH2_SCOPES: 'x' }), 'invalid_scope'],
    ['anything else', configErrorOf({ SMTP_PORT: 'x' }), 'settings_invalid'],
  ];
  for (const [name, error, id] of cases) {
    test(`${name} → ${id}, listing every problem`, () => {
      const finding = findingOfConfigError(error);
      assert.equal(finding.diagnosis, id);
      assert.ok(finding.observed?.includes(error.problems[0]!.setting));
    });
  }

  test('the settings rule that finds a problem names its diagnosis; the most telling of several wins', () => {
    const diagnosisOf = (env: Environment) => findingOfConfigError(configErrorOf(env)).diagnosis;
    assert.equal(diagnosisOf({ OAUTH2_SCOPES: 'https://outlook.office365.com/.default, https://outlook.office.com/.default' }), 'invalid_scope');
    assert.equal(diagnosisOf({ SMTP_HOST: '@Microsoft.KeyVault(SecretUri=https://relay-kv.vault.azure.net/secrets/x/)' }), 'secret_unreadable');
    assert.equal(diagnosisOf({ OAUTH2_CLIENT_SECRET: '11111111-2222-4333-8444-555555555555', OAUTH2_SCOPES: 'x', SMTP_PORT: 'x' }), 'client_secret_is_id');
    assert.equal(
      diagnosisOf({ OAUTH2_SCOPES: 'x', OAUTH2_CLIENT_ID: '@Microsoft.KeyVault(SecretUri=https://relay-kv.vault.azure.net/secrets/x/)' }),
      'secret_unreadable',
    );
    // A secret set where none belongs: removing it is the fix, whatever it holds.
    assert.equal(
      diagnosisOf({ OAUTH2_CLIENT_SECRET: '11111111-2222-4333-8444-555555555555', OAUTH2_AUTH_MODE: 'managed-identity-federation' }),
      'settings_invalid',
    );
  });

  test("a problem's words do not pick the diagnosis, the id it carries does", () => {
    const words = new ConfigError([{ setting: 'OAUTH2_CLIENT_SECRET', problem: "looks like the secret's ID (a GUID); copy the secret's Value instead" }]);
    assert.equal(findingOfConfigError(words).diagnosis, 'settings_invalid');
    const id = new ConfigError([{ setting: 'SMTP_PORT', problem: 'is not a whole number', diagnosis: 'invalid_scope' }]);
    assert.equal(findingOfConfigError(id).diagnosis, 'invalid_scope');
  });
});

/** The ConfigError of a small Microsoft 365 setup with `overrides`. */
function configErrorOf(overrides: Environment): ConfigError {
  const env: Environment = {
    OAUTH2_TOKEN_URL: 'https://login.microsoftonline.com/7a1c0de0-0000-4000-8000-00000000cafe/oauth2/v2.0/token',
    OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
    OAUTH2_CLIENT_SECRET: 'Qx8~sEcReT.value-NOT_a_guid_1234567890',
    SMTP_USER: 'relay@contoso.com',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    ...overrides,
  };
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('the settings were accepted');
}
