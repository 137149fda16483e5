import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, sendersOf, type Environment, type RelayConfig } from '../../../src/settings';
import { redact } from '../../../src/core/redact';

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const OTHER_TENANT = '1b2c0de0-0000-4000-8000-00000000beef';
const CLIENT_ID = '5e4d0000-0000-4000-8000-0000000000a1';
const BILLING_CLIENT = '5e4d0000-0000-4000-8000-0000000000b2';
const SECRET = 'Qx8~sEcReT.value-NOT_a_guid_1234567890';
const BILLING_SECRET = 'Bb8~billing.SECRET-value_0987654321abc';

const MINIMAL: Environment = {
  OAUTH2_TOKEN_URL: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
  OAUTH2_CLIENT_ID: CLIENT_ID,
  OAUTH2_CLIENT_SECRET: SECRET,
  SMTP_USER: 'relay@contoso.com',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

const BILLING = {
  id: 'billing',
  mailbox: 'billing@fabrikam.com',
  allowedFrom: ['invoices@fabrikam.com'],
  tenant: OTHER_TENANT,
  clientId: BILLING_CLIENT,
  credential: { secretSetting: 'BILLING_CLIENT_SECRET' },
};

function load(senders: unknown, extra: Environment = {}): RelayConfig {
  return loadConfig({ ...MINIMAL, BILLING_CLIENT_SECRET: BILLING_SECRET, RELAY_SENDERS: JSON.stringify(senders), ...extra });
}

function problems(senders: unknown, extra: Environment = {}): ConfigError['problems'] {
  try {
    load(senders, extra);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('the settings were accepted');
}

describe('RELAY_SENDERS', () => {
  it('leaves a single-sender configuration exactly as it was: one sender, "default", from today\'s settings', () => {
    const config = loadConfig(MINIMAL);
    assert.equal(config.senders, undefined);
    const senders = sendersOf(config);
    assert.deepEqual(
      senders.map((sender) => sender.id),
      ['default'],
    );
    assert.equal(senders[0]!.mail, config.mail);
    assert.equal(senders[0]!.auth, config.auth);
    assert.equal(senders[0]!.smtp, config.smtp);
  });

  it("adds senders beside the default one, in today's types, the secret read from the named app setting", () => {
    const config = load([
      BILLING,
      {
        id: 'ops',
        mailbox: 'ops@contoso.com',
        tenant: TENANT,
        clientId: CLIENT_ID,
        credential: { keyVaultSecret: 'ops-secret', vaultUrl: 'https://ops-vault.vault.azure.net' },
        smtp: { host: 'smtp.office365.com', port: 587 },
        limits: { connections: 2, messagesPerMinute: 20, recipientsPerDay: 5000 },
      },
      {
        id: 'generic',
        mailbox: 'bot@example.org',
        provider: 'generic',
        tokenUrl: 'https://idp.example.org/oauth2/token',
        clientId: 'bot',
        credential: { secretSetting: 'BILLING_CLIENT_SECRET' },
        smtp: { host: 'mail.example.org', port: 465 },
      },
    ]);
    const [main, billing, ops, generic] = sendersOf(config);
    assert.equal(main!.id, 'default');
    assert.equal(billing!.id, 'billing');
    assert.deepEqual(billing!.mail, {
      user: 'billing@fabrikam.com',
      from: 'billing@fabrikam.com',
      allowedFrom: ['billing@fabrikam.com', 'invoices@fabrikam.com'],
      maxRecipients: 500,
    });
    assert.equal(billing!.auth.kind, 'clientSecret');
    assert.ok(billing!.auth.kind === 'clientSecret' && billing!.auth.provider === 'microsoft');
    assert.equal(billing!.auth.tenantId, OTHER_TENANT);
    assert.equal(billing!.auth.tokenUrl, `https://login.microsoftonline.com/${OTHER_TENANT}/oauth2/v2.0/token`);
    assert.deepEqual(billing!.auth.source, { kind: 'setting', clientSecret: BILLING_SECRET });
    assert.deepEqual(billing!.smtp, config.smtp, "without its own smtp a sender uses the process's");
    assert.notEqual(billing!.smtp, config.smtp, "a copy: a sender's limits never change the default sender's");
    assert.equal(billing!.smtp.dailyRecipientLimit, 10_000);

    assert.ok(ops!.auth.kind === 'clientSecret' && ops!.auth.source.kind === 'keyVault');
    assert.equal(ops!.auth.source.keyVault.secretName, 'ops-secret');
    assert.equal(ops!.auth.source.keyVault.vaultUrl, 'https://ops-vault.vault.azure.net');
    assert.equal(ops!.smtp.poolSize, 2);
    assert.equal(ops!.smtp.rateLimitPerMinute, 20);
    assert.equal(ops!.smtp.dailyRecipientLimit, 5000);

    assert.ok(generic!.auth.kind === 'clientSecret' && generic!.auth.provider === 'generic');
    assert.equal(generic!.auth.tokenUrl, 'https://idp.example.org/oauth2/token');
    assert.deepEqual(generic!.auth.scopes, []);
    assert.equal(generic!.smtp.security, 'implicit');
    assert.equal(generic!.smtp.rateLimitPerMinute, 0, 'another provider: no per-minute limit unless given');
    assert.equal(generic!.smtp.dailyRecipientLimit, 0);
    assert.equal(config.smtp.poolSize, 3, 'the default sender keeps its own pool size');
  });

  it('reads federation, with the managed identity the entry names', () => {
    const identity = '0a0b0c0d-0000-4000-8000-000000000001';
    const config = load([{ ...BILLING, credential: { federation: true, managedIdentityClientId: identity } }]);
    const billing = sendersOf(config)[1]!;
    assert.ok(billing.auth.kind === 'federation');
    assert.deepEqual(billing.auth.federation, { managedIdentityClientId: identity });
  });

  it('lists every problem of every sender at once, each with its path', () => {
    const found = problems([
      { ...BILLING, credential: { keyVaultSecret: 'not a name!' } },
      { id: 'Bad Id', mailbox: 'not-an-address', clientId: 'x', tenant: 'common', credential: {}, limits: { connections: 9 }, colour: 'blue' },
      'not an object',
    ]);
    const paths = found.map((item) => item.setting);
    assert.deepEqual(paths, [
      'RELAY_SENDERS[0].credential.keyVaultSecret',
      'RELAY_SENDERS[1].colour',
      'RELAY_SENDERS[1].id',
      'RELAY_SENDERS[1].mailbox',
      'RELAY_SENDERS[1].limits.connections',
      'RELAY_SENDERS[1].clientId',
      'RELAY_SENDERS[1].credential',
      'RELAY_SENDERS[1].tenant',
      'RELAY_SENDERS[2]',
    ]);
    assert.match(found[0]!.problem, /Key Vault secret name/);
    assert.match(found[4]!.problem, /exceeds the 3 concurrent connections/);
  });

  it('refuses duplicate ids, the id "default" and a From address two senders claim', () => {
    const found = problems([
      BILLING,
      { ...BILLING, mailbox: 'other@fabrikam.com', allowedFrom: ['Invoices@Fabrikam.com'] },
      { ...BILLING, id: 'default', mailbox: 'third@fabrikam.com', allowedFrom: [] },
      { ...BILLING, id: 'fourth', mailbox: 'relay@contoso.com', allowedFrom: [] },
    ]);
    assert.deepEqual(
      found.map((item) => `${item.setting}: ${item.problem}`),
      [
        'RELAY_SENDERS[1].id: "billing" is already the id of RELAY_SENDERS[0]: every sender needs its own id',
        'RELAY_SENDERS[1].allowedFrom[0]: "invoices@fabrikam.com" is also claimed by sender "billing": a message from it could not choose its sender',
        'RELAY_SENDERS[2].id: "default" is the sender of the single-sender settings (SMTP_USER, OAUTH2_*): choose another id',
        'RELAY_SENDERS[3].mailbox: "relay@contoso.com" is also claimed by sender "default": a message from it could not choose its sender',
      ],
    );
  });

  it('takes secrets only by reference: an inline secret is refused and never echoed, the referenced one is redacted', () => {
    const inline = 'Zz9~inline.SECRET-value_1122334455667';
    const found = problems([
      { ...BILLING, clientSecret: inline },
      { ...BILLING, id: 'pasted', mailbox: 'p@fabrikam.com', allowedFrom: [], credential: { secretSetting: inline } },
      { ...BILLING, id: 'inclient', mailbox: 'q@fabrikam.com', allowedFrom: [], clientId: inline },
      { ...BILLING, id: 'missing', mailbox: 'r@fabrikam.com', allowedFrom: [], credential: { secretSetting: 'NO_SUCH_SETTING' } },
    ]);
    assert.deepEqual(
      found.map((item) => item.setting),
      ['RELAY_SENDERS[0].clientSecret', 'RELAY_SENDERS[1].credential.secretSetting', 'RELAY_SENDERS[2].clientId', 'RELAY_SENDERS[3].credential.secretSetting'],
    );
    assert.match(found[0]!.problem, /never written inline/);
    assert.match(found[3]!.problem, /NO_SUCH_SETTING is missing/);
    const text = JSON.stringify(found);
    assert.ok(!text.includes(inline), text);
    assert.ok(!text.includes('Zz9~'), text);
    assert.equal(redact(`x ${inline} y`).includes(inline), false, 'the inline value is registered with the redactor');
    load([BILLING]);
    assert.equal(redact(`token ${BILLING_SECRET}`).includes(BILLING_SECRET), false, 'the referenced secret is registered with the redactor');
  });

  it('says what is wrong with a value that is not a JSON array', () => {
    assert.deepEqual(
      problems('{"id":').map((item) => item.setting),
      ['RELAY_SENDERS'],
    );
    const notJson = (() => {
      try {
        loadConfig({ ...MINIMAL, RELAY_SENDERS: '[{' });
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    })();
    assert.match(notJson[0]!.problem, /is not JSON/);
  });
});
