/**
 * The settings spec (src/settings/spec.ts) is the one place a setting is declared: these
 * tests walk the whole table and check that what the reader, describeSettings() and the
 * redaction do is what the table says, so a setting added to the table is covered at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, describeSettings, loadConfig, type Environment, type RelayConfig } from '../../../src/settings';
import {
  SECRET_SETTINGS,
  SETTINGS,
  SETTING_NAMES,
  rangeText,
  settingSpec,
  type DerivedIntegerName,
  type IntegerName,
  type Section,
  type SettingName,
} from '../../../src/settings/spec';
import { SettingsReader } from '../../../src/settings/reader';
import { readSmtp } from '../../../src/settings/smtp';
import { readMail } from '../../../src/settings/mail';
import { readOAuth, readPassword } from '../../../src/settings/auth';
import { readQueue } from '../../../src/settings/queue';
import { readStorageConnection } from '../../../src/settings/storage';
import { readMonitor } from '../../../src/settings/monitor';
import { readTransport } from '../../../src/settings/transport';
import { redact } from '../../../src/core/redact';

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const MINIMAL: Environment = {
  OAUTH2_TOKEN_URL: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
  OAUTH2_CLIENT_ID: '5e4d0000-0000-4000-8000-0000000000a1',
  OAUTH2_CLIENT_SECRET: 'Qx8~sEcReT.value-NOT_a_guid_1234567890',
  SMTP_USER: 'relay@contoso.com',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

const noFile = () => {
  throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
};

function load(env: Environment): RelayConfig {
  return loadConfig(env, noFile);
}

function problemsOf(env: Environment): ConfigError {
  try {
    load(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('the settings were accepted');
}

/** The spec's default as a setting's value, when it is a fixed one (not derived from other settings). */
function literalDefault(name: SettingName): string | undefined {
  const preset = settingSpec(name).default;
  return preset === undefined || typeof preset === 'object' ? undefined : String(preset);
}

/** An environment that records which settings were read. */
function recording(env: Environment): { env: Environment; read: Set<string> } {
  const read = new Set<string>();
  const proxy = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
  });
  return { env: proxy, read };
}

describe('the settings spec', () => {
  it('describes every setting in one line, in the README order, with {range} filled in', () => {
    const described = describeSettings();
    assert.deepEqual(
      described.map((setting) => setting.name),
      [...SETTING_NAMES],
    );
    for (const setting of described) {
      assert.ok(setting.description.length > 10, setting.name);
      assert.ok(!/[\n{}]/.test(setting.description.replace('{"text": ...}', '')), `${setting.name}: ${setting.description}`);
    }
    for (const name of SETTING_NAMES) {
      const spec = settingSpec(name);
      // A range is written once, as min and max: the description says {range}.
      assert.doesNotMatch(spec.description, /\d+ to \d+/, `${name}: write {range} instead of the numbers`);
      if (spec.description.includes('{range}')) {
        assert.equal(spec.type, 'integer', `${name}: {range} in a setting without a range`);
        if (spec.type === 'integer') assert.ok(described.find((setting) => setting.name === name)?.description.includes(`(${rangeText(spec)}`), name);
      }
    }
  });

  it('lists as secrets exactly the settings flagged secret, and no problem text shows their values', () => {
    assert.deepEqual([...SECRET_SETTINGS].sort(), SETTING_NAMES.filter((name) => settingSpec(name).secret !== undefined).sort());
    assert.deepEqual([...SECRET_SETTINGS].sort(), ['ALERT_WEBHOOK_URL', 'AzureWebJobsStorage', 'OAUTH2_CLIENT_SECRET', 'SMTP_PASSWORD']);
    // A secret that looks like a host name, also given (with a port) as SMTP_HOST, whose problem quotes host names.
    const leaked = (name: string, value: string) => problemsOf({ ...MINIMAL, [name]: value, SMTP_HOST: `${value}:25` }).message.includes(value);
    for (const name of SECRET_SETTINGS) assert.equal(leaked(name, `secret-${name.length}.example.org`), false, name);
    // The same value in a setting that is not a secret is quoted: the flag is what keeps it out.
    assert.equal(leaked('ALERT_EMAIL_TO', 'not-a-secret.example.org'), true);
  });

  it('registers the value of every whole-value secret with the redactor, even when the settings fail', () => {
    const whole = SETTING_NAMES.filter((name) => settingSpec(name).secret === 'value');
    assert.ok(whole.length > 0);
    const values = Object.fromEntries(whole.map((name) => [name, `whole-secret-value-${name}-0123456789`]));
    problemsOf({ ...values, SMTP_PORT: 'wrong' });
    for (const name of whole) assert.equal(redact(`value: ${values[name]}`), 'value: [redacted]', name);
  });

  it('applies the default the spec writes: an absent setting reads as one set to its default', () => {
    const absent = load(MINIMAL);
    const checked: string[] = [];
    for (const name of SETTING_NAMES) {
      const value = literalDefault(name);
      if (value === undefined) continue;
      assert.deepEqual(load({ ...MINIMAL, [name]: value }), absent, `${name}=${value}`);
      checked.push(name);
    }
    assert.ok(checked.length > 30, `only ${checked.length} fixed defaults`);
  });

  it('applies each derived default as its rule computes it', () => {
    const { rule: security } = SETTINGS.SMTP_SECURITY.default;
    const { rule: rateLimit } = SETTINGS.SMTP_RATE_LIMIT_PER_MINUTE.default;
    const { rule: dailyRecipients } = SETTINGS.SMTP_DAILY_RECIPIENT_LIMIT.default;
    const { rule: tokenUrl } = SETTINGS.OAUTH2_TOKEN_URL.default;
    const { rule: from } = SETTINGS.MAIL_FROM.default;
    const { rule: blobUri } = SETTINGS.AzureWebJobsStorage__blobServiceUri.default;
    const identity: Environment = {
      ...MINIMAL,
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net',
    };
    const cases: Array<{ name: SettingName; env: Environment; value: string | number | undefined }> = [
      { name: 'SMTP_SECURITY', env: { ...MINIMAL, SMTP_PORT: '465' }, value: security({ port: 465 }) },
      { name: 'SMTP_SECURITY', env: { ...MINIMAL, SMTP_PORT: '25' }, value: security({ port: 25 }) },
      { name: 'SMTP_RATE_LIMIT_PER_MINUTE', env: MINIMAL, value: rateLimit({ host: 'smtp.office365.com' }) },
      { name: 'SMTP_RATE_LIMIT_PER_MINUTE', env: { ...MINIMAL, SMTP_HOST: 'mail.example.org' }, value: rateLimit({ host: 'mail.example.org' }) },
      { name: 'SMTP_DAILY_RECIPIENT_LIMIT', env: MINIMAL, value: dailyRecipients({ host: 'smtp.office365.com' }) },
      { name: 'SMTP_DAILY_RECIPIENT_LIMIT', env: { ...MINIMAL, SMTP_HOST: 'mail.example.org' }, value: dailyRecipients({ host: 'mail.example.org' }) },
      {
        name: 'OAUTH2_TOKEN_URL',
        env: { ...MINIMAL, OAUTH2_TOKEN_URL: undefined, OAUTH2_TENANT_ID: TENANT },
        value: tokenUrl({ authorityHost: 'https://login.microsoftonline.com', tenantId: TENANT }),
      },
      { name: 'MAIL_FROM', env: MINIMAL, value: from({ user: 'relay@contoso.com' }) },
      { name: 'AzureWebJobsStorage__blobServiceUri', env: identity, value: blobUri('https://relaystore.queue.core.windows.net') },
    ];
    assert.deepEqual(
      [security({ port: 465 }), security({ port: 25 }), rateLimit({ host: 'SMTP.Office365.com' }), rateLimit({ host: 'mail.example.org' })],
      ['implicit', 'starttls', 30, 0],
    );
    assert.deepEqual([dailyRecipients({ host: 'SMTP.Office365.com' }), dailyRecipients({ host: 'mail.example.org' })], [10_000, 0]);
    for (const { name, env, value } of cases) {
      assert.notEqual(value, undefined, name);
      assert.deepEqual(load({ ...env, [name]: String(value) }), load(env), `${name}=${value}`);
    }
    const derived = SETTING_NAMES.filter((name) => typeof settingSpec(name).default === 'object');
    assert.deepEqual(new Set(cases.map((item) => item.name)), new Set(derived), 'every derived default has a case here');
    assert.equal(blobUri('https://queues.internal.example'), undefined, 'no .queue. in the URI: nothing to derive');
  });

  it('checks every integer setting against the range the spec writes, bounds included', () => {
    const integers = SETTING_NAMES.filter((name): name is IntegerName | DerivedIntegerName => settingSpec(name).type === 'integer');
    assert.ok(integers.length > 20, `only ${integers.length} integer settings`);
    for (const name of integers) {
      const spec = settingSpec(name);
      if (spec.type !== 'integer') continue;
      for (const inside of [spec.min, spec.max]) {
        const reader = new SettingsReader({ [name]: String(inside) });
        assert.equal(reader.integer(name), inside, `${name}=${inside}`);
        assert.deepEqual(reader.problems, [], `${name}=${inside}`);
      }
      const outside = [spec.max + 1, ...(spec.min > 0 ? [spec.min - 1] : [])];
      for (const value of outside) {
        const reported = problemsOf({ ...MINIMAL, [name]: String(value) }).problems.filter((item) => item.setting === name);
        assert.deepEqual(reported, [{ setting: name, problem: `${value} is out of range (${rangeText(spec)})` }]);
      }
    }
  });

  it('reads exactly the settings of the spec', () => {
    const read = new Set<string>();
    for (const env of [MINIMAL, { ...MINIMAL, OAUTH2_ENABLED: 'false', SMTP_PASSWORD: 'correct horse battery staple' }]) {
      const recorder = recording({ ...env });
      load(recorder.env);
      for (const name of recorder.read) read.add(name);
    }
    assert.deepEqual([...read].sort(), [...SETTING_NAMES].sort());
  });

  it('reads in each section module only the settings of its section', () => {
    const smtp = load(MINIMAL).smtp;
    const sections: Array<{ section: Section[]; read: (reader: SettingsReader) => unknown }> = [
      { section: ['smtp'], read: (reader) => readSmtp(reader, noFile) },
      { section: ['mail'], read: (reader) => readMail(reader, smtp) },
      { section: ['auth'], read: (reader) => readOAuth(reader) },
      { section: ['auth'], read: (reader) => readPassword(reader, 'relay@contoso.com') },
      { section: ['queue', 'storage'], read: (reader) => readQueue(reader) },
      { section: ['storage'], read: (reader) => readStorageConnection(reader) },
      { section: ['monitor'], read: (reader) => readMonitor(reader) },
      { section: ['transport'], read: (reader) => readTransport(reader, 'https://graph.microsoft.com', undefined) },
    ];
    const covered = new Set<Section>();
    for (const { section, read } of sections) {
      const recorder = recording({ ...MINIMAL });
      const reader = new SettingsReader(recorder.env);
      recorder.read.clear();
      read(reader);
      assert.ok(recorder.read.size > 0);
      for (const name of recorder.read) {
        const spec = SETTING_NAMES.find((setting) => setting === name);
        assert.ok(spec && section.includes(settingSpec(spec).section), `${name} read by the ${section.join('/')} section`);
        covered.add(settingSpec(spec).section);
      }
    }
    assert.deepEqual([...covered].sort(), [...new Set(SETTING_NAMES.map((name) => settingSpec(name).section))].sort());
  });
});
