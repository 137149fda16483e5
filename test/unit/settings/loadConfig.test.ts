import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, oauthOf, type Environment, type ReadTextFile, type RelayConfig } from '../../../src/settings';

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const CLIENT_ID = '5e4d0000-0000-4000-8000-0000000000a1';
const SECRET = 'Qx8~sEcReT.value-NOT_a_guid_1234567890';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n';

/** The smallest Microsoft 365 setup: the guide's token URL, client, secret and mailbox. */
const MINIMAL: Environment = {
  OAUTH2_TOKEN_URL: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
  OAUTH2_CLIENT_ID: CLIENT_ID,
  OAUTH2_CLIENT_SECRET: SECRET,
  SMTP_USER: 'relay@contoso.com',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

const noFile: ReadTextFile = () => {
  throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
};

function load(overrides: Environment, readFile: ReadTextFile = noFile): RelayConfig {
  return loadConfig({ ...MINIMAL, ...overrides }, readFile);
}

/** The ConfigError thrown for these settings. */
function problemsOf(env: Environment, readFile: ReadTextFile = noFile): ConfigError {
  try {
    loadConfig(env, readFile);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('loadConfig accepted the settings');
}

function settingsWithProblems(env: Environment, readFile?: ReadTextFile): string[] {
  return problemsOf(env, readFile).problems.map((item) => item.setting);
}

describe('loadConfig defaults', () => {
  it('serves Microsoft 365 with the smallest setup', () => {
    const config = loadConfig(MINIMAL);
    assert.deepEqual(config.smtp, {
      host: 'smtp.office365.com',
      port: 587,
      security: 'starttls',
      poolSize: 3,
      rateLimitPerMinute: 30,
      rateLimitWindowMs: 60000,
      dailyRecipientLimit: 10000,
      dailyRecipientWindowMs: 86400000,
      limitsScope: 'app',
      rateLimitMaxWaitMs: 30000,
      throttleBackoffMs: 60000,
      connectionTimeoutMs: 20000,
      greetingTimeoutMs: 20000,
      socketTimeoutMs: 60000,
    });
    assert.deepEqual(config.auth, {
      kind: 'clientSecret',
      provider: 'microsoft',
      tenantId: TENANT,
      authorityHost: 'https://login.microsoftonline.com',
      tokenUrl: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
      disableInstanceDiscovery: false,
      clientId: CLIENT_ID,
      source: { kind: 'setting', clientSecret: SECRET },
      scopes: ['https://outlook.office365.com/.default'],
      refreshMarginMs: 600_000,
    });
    assert.deepEqual(config.mail, { user: 'relay@contoso.com', from: 'relay@contoso.com', allowedFrom: [], maxRecipients: 500 });
    assert.notEqual(config.auth.kind, 'password');
    assert.equal(config.queue.queueName, 'outbound-mail');
    assert.equal(config.queue.deadLetterQueueName, 'outbound-mail-deadletter');
    assert.equal(config.queue.deadLetterContainerName, 'outbound-mail-deadletter');
    assert.equal(config.queue.maxDequeueCount, 5);
    assert.equal(config.queue.connectionSetting, 'AzureWebJobsStorage');
  });

  it("accepts the setup guide's scope https://outlook.office.com/.default", () => {
    assert.deepEqual(oauthOf(load({ OAUTH2_SCOPES: 'https://outlook.office.com/.default' }).auth)?.scopes, ['https://outlook.office.com/.default']);
  });

  it('trims values and treats empty values as absent', () => {
    const config = load({ SMTP_HOST: '  ', SMTP_PORT: ' 465 ', MAIL_FROM: '' });
    assert.equal(config.smtp.host, 'smtp.office365.com');
    assert.equal(config.smtp.port, 465);
    assert.equal(config.smtp.security, 'implicit');
    assert.equal(config.mail.from, 'relay@contoso.com');
  });

  it('reads process.env when no environment is given', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, MINIMAL);
      assert.equal(loadConfig().mail.user, 'relay@contoso.com');
    } finally {
      for (const key of Object.keys(MINIMAL)) if (!(key in saved)) delete process.env[key];
    }
  });
});

describe('SMTP settings', () => {
  const cases: Array<{ name: string; env: Environment; expect: Partial<RelayConfig['smtp']> }> = [
    { name: 'port 465 defaults to implicit TLS', env: { SMTP_PORT: '465' }, expect: { port: 465, security: 'implicit' } },
    { name: 'port 25 defaults to STARTTLS', env: { SMTP_PORT: '25' }, expect: { security: 'starttls' } },
    { name: 'security is case-insensitive', env: { SMTP_SECURITY: 'STARTTLS' }, expect: { security: 'starttls' } },
    { name: 'implicit TLS on a custom port', env: { SMTP_PORT: '2465', SMTP_SECURITY: 'implicit' }, expect: { security: 'implicit' } },
    { name: 'an IP address host', env: { SMTP_HOST: '127.0.0.1', SMTP_POOL_SIZE: '8' }, expect: { host: '127.0.0.1', poolSize: 8 } },
    { name: 'no rate limit by default for other providers', env: { SMTP_HOST: 'smtp.example.net' }, expect: { rateLimitPerMinute: 0 } },
    {
      name: 'rate limit and throttling back-off',
      env: { SMTP_RATE_LIMIT_PER_MINUTE: '10', SMTP_RATE_LIMIT_MAX_WAIT_SECONDS: '5', SMTP_THROTTLE_BACKOFF_SECONDS: '120' },
      expect: { rateLimitPerMinute: 10, rateLimitMaxWaitMs: 5000, throttleBackoffMs: 120000 },
    },
    {
      name: 'timeouts',
      env: { SMTP_CONNECTION_TIMEOUT_MS: '5000', SMTP_GREETING_TIMEOUT_MS: '6000', SMTP_SOCKET_TIMEOUT_MS: '7000' },
      expect: { connectionTimeoutMs: 5000, greetingTimeoutMs: 6000, socketTimeoutMs: 7000 },
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const smtp = load(testCase.env).smtp;
      for (const [key, value] of Object.entries(testCase.expect)) assert.equal(smtp[key as keyof typeof smtp], value, key);
    });
  }

  const invalid: Array<{ name: string; env: Environment; setting: string; says: RegExp }> = [
    { name: 'port not a number', env: { SMTP_PORT: '587a' }, setting: 'SMTP_PORT', says: /"587a" is not a whole number/ },
    { name: 'port out of range', env: { SMTP_PORT: '70000' }, setting: 'SMTP_PORT', says: /out of range \(1 to 65535\)/ },
    { name: 'implicit on 587', env: { SMTP_SECURITY: 'implicit' }, setting: 'SMTP_SECURITY', says: /contradicts SMTP_PORT 587/ },
    { name: 'starttls on 465', env: { SMTP_PORT: '465', SMTP_SECURITY: 'starttls' }, setting: 'SMTP_SECURITY', says: /contradicts SMTP_PORT 465/ },
    { name: 'unknown security', env: { SMTP_SECURITY: 'ssl' }, setting: 'SMTP_SECURITY', says: /"ssl" is not one of starttls, implicit/ },
    { name: 'host with port', env: { SMTP_HOST: 'smtp.office365.com:587' }, setting: 'SMTP_HOST', says: /port in SMTP_PORT/ },
    { name: 'host as URL', env: { SMTP_HOST: 'smtp://smtp.office365.com' }, setting: 'SMTP_HOST', says: /is a URL/ },
    { name: 'host with space', env: { SMTP_HOST: 'smtp office365' }, setting: 'SMTP_HOST', says: /is not a host name/ },
    { name: 'pool over Exchange limit', env: { SMTP_POOL_SIZE: '4' }, setting: 'SMTP_POOL_SIZE', says: /3 concurrent connections/ },
    { name: 'rate over Exchange limit', env: { SMTP_RATE_LIMIT_PER_MINUTE: '31' }, setting: 'SMTP_RATE_LIMIT_PER_MINUTE', says: /30 messages a minute/ },
    { name: 'pool zero', env: { SMTP_POOL_SIZE: '0' }, setting: 'SMTP_POOL_SIZE', says: /out of range/ },
    { name: 'timeout too small', env: { SMTP_SOCKET_TIMEOUT_MS: '10' }, setting: 'SMTP_SOCKET_TIMEOUT_MS', says: /out of range/ },
    { name: 'negative timeout', env: { SMTP_CONNECTION_TIMEOUT_MS: '-1' }, setting: 'SMTP_CONNECTION_TIMEOUT_MS', says: /not a whole number/ },
    { name: 'fractional timeout', env: { SMTP_GREETING_TIMEOUT_MS: '1.5e4' }, setting: 'SMTP_GREETING_TIMEOUT_MS', says: /not a whole number/ },
  ];
  for (const testCase of invalid) {
    it(`rejects: ${testCase.name}`, () => {
      const error = problemsOf({ ...MINIMAL, ...testCase.env });
      assert.deepEqual(
        error.problems.map((item) => item.setting),
        [testCase.setting],
      );
      assert.match(error.problems[0]!.problem, testCase.says);
      assert.match(error.message, new RegExp(`- ${testCase.setting}: `));
    });
  }

  it('does not report a port contradiction when the port itself is invalid', () => {
    assert.deepEqual(settingsWithProblems({ ...MINIMAL, SMTP_PORT: 'x', SMTP_SECURITY: 'implicit' }), ['SMTP_PORT']);
  });
});

describe('TLS_EXTRA_CA_FILE', () => {
  it('reads the PEM through the given file reader', () => {
    const read: string[] = [];
    const config = load({ TLS_EXTRA_CA_FILE: '/etc/relay/ca.pem' }, (path, encoding) => {
      read.push(`${path}:${encoding}`);
      return PEM;
    });
    assert.equal(config.smtp.extraCa, PEM);
    assert.deepEqual(read, ['/etc/relay/ca.pem:utf8']);
  });

  it('reports an unreadable file with its error code', () => {
    const error = problemsOf({ ...MINIMAL, TLS_EXTRA_CA_FILE: '/missing.pem' });
    assert.deepEqual(error.problems, [{ setting: 'TLS_EXTRA_CA_FILE', problem: 'cannot read "/missing.pem" (ENOENT)' }]);
  });

  it('reports a file without a certificate block', () => {
    const error = problemsOf({ ...MINIMAL, TLS_EXTRA_CA_FILE: '/key.pem' }, () => '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    assert.equal(error.problems[0]!.setting, 'TLS_EXTRA_CA_FILE');
    assert.match(error.problems[0]!.problem, /no PEM certificate/);
  });
});

describe('OAuth2 token provider', () => {
  it("derives the Microsoft provider and tenant from the guide's token URL", () => {
    const oauth = oauthOf(load({}).auth);
    assert.equal(oauth?.provider, 'microsoft');
    assert.equal(oauth?.provider === 'microsoft' && oauth.tenantId, TENANT);
  });

  it('derives the token URL from the tenant ID and the default authority', () => {
    const oauth = oauthOf(load({ OAUTH2_TOKEN_URL: undefined, OAUTH2_TENANT_ID: 'contoso.onmicrosoft.com' }).auth);
    assert.deepEqual(oauth && { provider: oauth.provider, tokenUrl: 'tokenUrl' in oauth ? oauth.tokenUrl : undefined }, {
      provider: 'microsoft',
      tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
    });
  });

  it('uses a sovereign-cloud authority host and keeps instance discovery on', () => {
    const oauth = oauthOf(load({ OAUTH2_TOKEN_URL: undefined, OAUTH2_TENANT_ID: TENANT, OAUTH2_AUTHORITY_HOST: 'https://login.microsoftonline.us/' }).auth);
    assert.ok(oauth?.provider === 'microsoft');
    assert.equal(oauth.authorityHost, 'https://login.microsoftonline.us');
    assert.equal(oauth.tokenUrl, `https://login.microsoftonline.us/${TENANT}/oauth2/v2.0/token`);
    assert.equal(oauth.disableInstanceDiscovery, false);
  });

  it('turns instance discovery off for a local authority taken from the token URL', () => {
    const oauth = oauthOf(load({ OAUTH2_TOKEN_URL: `https://127.0.0.1:8443/${TENANT}/oauth2/v2.0/token`, SMTP_HOST: '127.0.0.1' }).auth);
    assert.ok(oauth?.provider === 'microsoft');
    assert.equal(oauth.authorityHost, 'https://127.0.0.1:8443');
    assert.equal(oauth.tenantId, TENANT);
    assert.equal(oauth.disableInstanceDiscovery, true);
  });

  it('accepts a tenant ID and token URL that agree (case-insensitively)', () => {
    assert.equal(oauthOf(load({ OAUTH2_TENANT_ID: TENANT.toUpperCase() }).auth)?.provider, 'microsoft');
  });

  it('chooses the generic provider for any other token URL, with no default scope', () => {
    const oauth = oauthOf(load({ OAUTH2_TOKEN_URL: 'https://idp.example.com/oauth/token', OAUTH2_CLIENT_ID: 'relay-app' }).auth);
    assert.deepEqual(oauth && { provider: oauth.provider, tokenUrl: 'tokenUrl' in oauth ? oauth.tokenUrl : undefined, scopes: oauth.scopes }, {
      provider: 'generic',
      tokenUrl: 'https://idp.example.com/oauth/token',
      scopes: [],
    });
  });

  it('passes generic scopes through unchecked', () => {
    const oauth = oauthOf(load({ OAUTH2_PROVIDER: 'generic', OAUTH2_TOKEN_URL: 'https://idp.example.com/token', OAUTH2_SCOPES: 'mail.send, smtp' }).auth);
    assert.deepEqual(oauth?.scopes, ['mail.send', 'smtp']);
  });

  it('reads the refresh margin in seconds', () => {
    assert.equal(oauthOf(load({ OAUTH2_REFRESH_MARGIN_SECONDS: '900' }).auth)?.refreshMarginMs, 900_000);
  });

  const invalid: Array<{ name: string; env: Environment; setting: string; says: RegExp }> = [
    {
      name: 'http token URL',
      env: { OAUTH2_TOKEN_URL: `http://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token` },
      setting: 'OAUTH2_TOKEN_URL',
      says: /must use https/,
    },
    { name: 'relative token URL', env: { OAUTH2_TOKEN_URL: '/token' }, setting: 'OAUTH2_TOKEN_URL', says: /not an absolute URL/ },
    {
      name: 'v1 token endpoint',
      env: { OAUTH2_TOKEN_URL: `https://login.microsoftonline.com/${TENANT}/oauth2/token` },
      setting: 'OAUTH2_TOKEN_URL',
      says: /v1 endpoint/,
    },
    {
      name: 'tenant contradicts token URL',
      env: { OAUTH2_TENANT_ID: 'fabrikam.onmicrosoft.com' },
      setting: 'OAUTH2_TENANT_ID',
      says: /contradicts the tenant/,
    },
    {
      name: 'authority contradicts token URL',
      env: { OAUTH2_AUTHORITY_HOST: 'https://login.microsoftonline.us' },
      setting: 'OAUTH2_AUTHORITY_HOST',
      says: /contradicts the host "https:\/\/login.microsoftonline.com"/,
    },
    {
      name: 'authority with a path',
      env: { OAUTH2_AUTHORITY_HOST: `https://login.microsoftonline.com/${TENANT}` },
      setting: 'OAUTH2_AUTHORITY_HOST',
      says: /without a path/,
    },
    { name: 'http authority', env: { OAUTH2_AUTHORITY_HOST: 'http://login.microsoftonline.com' }, setting: 'OAUTH2_AUTHORITY_HOST', says: /https/ },
    {
      name: 'Microsoft provider with a non-Microsoft token URL',
      env: { OAUTH2_PROVIDER: 'microsoft', OAUTH2_TOKEN_URL: 'https://idp.example.com/token' },
      setting: 'OAUTH2_TOKEN_URL',
      says: /\/oauth2\/v2.0\/token/,
    },
    {
      name: 'multi-tenant alias',
      env: { OAUTH2_TOKEN_URL: undefined, OAUTH2_TENANT_ID: 'common' },
      setting: 'OAUTH2_TENANT_ID',
      says: /client-credentials tokens need your own tenant/,
    },
    {
      name: 'malformed tenant',
      env: { OAUTH2_TOKEN_URL: undefined, OAUTH2_TENANT_ID: 'my tenant' },
      setting: 'OAUTH2_TENANT_ID',
      says: /neither a Directory \(tenant\) ID/,
    },
    { name: 'unknown provider', env: { OAUTH2_PROVIDER: 'okta' }, setting: 'OAUTH2_PROVIDER', says: /not one of auto, microsoft, generic, google/ },
    { name: 'no tenant and no token URL', env: { OAUTH2_TOKEN_URL: undefined }, setting: 'OAUTH2_TOKEN_URL', says: /is missing.*OAUTH2_TENANT_ID/ },
    {
      name: 'Microsoft provider without tenant',
      env: { OAUTH2_PROVIDER: 'microsoft', OAUTH2_TOKEN_URL: undefined },
      setting: 'OAUTH2_TENANT_ID',
      says: /is missing/,
    },
    { name: 'missing client ID', env: { OAUTH2_CLIENT_ID: undefined }, setting: 'OAUTH2_CLIENT_ID', says: /is missing/ },
    { name: 'client ID not a GUID', env: { OAUTH2_CLIENT_ID: 'relay-app' }, setting: 'OAUTH2_CLIENT_ID', says: /is not an Application \(client\) ID/ },
    { name: 'missing client secret', env: { OAUTH2_CLIENT_SECRET: undefined }, setting: 'OAUTH2_CLIENT_SECRET', says: /is missing/ },
    {
      name: 'secret ID instead of value',
      env: { OAUTH2_CLIENT_SECRET: '0b1f2e3d-4c5b-4a69-8877-665544332211' },
      setting: 'OAUTH2_CLIENT_SECRET',
      says: /secret's ID/,
    },
    {
      name: 'delegated scope',
      env: { OAUTH2_SCOPES: 'https://outlook.office.com/SMTP.Send' },
      setting: 'OAUTH2_SCOPES',
      says: /"https:\/\/outlook.office.com\/SMTP.Send" must be an absolute URL ending in \/.default .*Microsoft client-credentials flow/,
    },
    { name: 'relative scope', env: { OAUTH2_SCOPES: '.default' }, setting: 'OAUTH2_SCOPES', says: /absolute URL ending in \/.default/ },
    {
      name: 'two resources',
      env: { OAUTH2_SCOPES: 'https://outlook.office.com/.default https://graph.microsoft.com/.default' },
      setting: 'OAUTH2_SCOPES',
      says: /exactly one/,
    },
    { name: 'refresh margin below 600', env: { OAUTH2_REFRESH_MARGIN_SECONDS: '599' }, setting: 'OAUTH2_REFRESH_MARGIN_SECONDS', says: /600 to 3000/ },
    {
      name: 'refresh margin not a number',
      env: { OAUTH2_REFRESH_MARGIN_SECONDS: '10m' },
      setting: 'OAUTH2_REFRESH_MARGIN_SECONDS',
      says: /not a whole number/,
    },
    { name: 'OAUTH2_ENABLED not a boolean', env: { OAUTH2_ENABLED: 'yes' }, setting: 'OAUTH2_ENABLED', says: /not one of true, false/ },
  ];
  for (const testCase of invalid) {
    it(`rejects: ${testCase.name}`, () => {
      const error = problemsOf({ ...MINIMAL, ...testCase.env });
      assert.deepEqual(
        error.problems.map((item) => item.setting),
        [testCase.setting],
        error.message,
      );
      assert.match(error.problems[0]!.problem, testCase.says);
    });
  }
});

describe('password authentication', () => {
  it('OAUTH2_ENABLED=false uses SMTP_PASSWORD and ignores the OAuth settings', () => {
    const config = loadConfig({
      SMTP_USER: 'relay@example.org',
      SMTP_PASSWORD: 'correct horse battery staple',
      OAUTH2_ENABLED: 'false',
      OAUTH2_SCOPES: 'not checked',
      SMTP_HOST: 'mail.example.org',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    });
    assert.equal(oauthOf(config.auth), undefined);
    assert.deepEqual(config.auth, { kind: 'password', user: 'relay@example.org', password: 'correct horse battery staple' });
  });

  it('OAUTH2_ENABLED=false requires SMTP_PASSWORD', () => {
    assert.deepEqual(settingsWithProblems({ ...MINIMAL, OAUTH2_ENABLED: 'FALSE' }), ['SMTP_PASSWORD']);
  });
});

describe('mail settings', () => {
  it('reads MAIL_FROM, MAIL_ALLOWED_FROM (lower-cased) and MAIL_MAX_RECIPIENTS', () => {
    const config = load({
      MAIL_FROM: 'noreply@contoso.com',
      MAIL_ALLOWED_FROM: 'Alerts@Contoso.com, billing@contoso.com;  støtte@bücher.de',
      MAIL_MAX_RECIPIENTS: '100',
    });
    assert.deepEqual(config.mail, {
      user: 'relay@contoso.com',
      from: 'noreply@contoso.com',
      allowedFrom: ['alerts@contoso.com', 'billing@contoso.com', 'støtte@bücher.de'],
      maxRecipients: 100,
    });
  });

  it('allows up to 1000 recipients for a non-Microsoft SMTP host', () => {
    assert.equal(load({ SMTP_HOST: 'mail.example.org', MAIL_MAX_RECIPIENTS: '1000' }).mail.maxRecipients, 1000);
  });

  const invalid: Array<{ name: string; env: Environment; setting: string; says: RegExp }> = [
    { name: 'missing SMTP_USER', env: { SMTP_USER: undefined }, setting: 'SMTP_USER', says: /is missing/ },
    { name: 'SMTP_USER with display name', env: { SMTP_USER: 'Relay <relay@contoso.com>' }, setting: 'SMTP_USER', says: /not an e-mail address/ },
    { name: 'SMTP_USER without domain', env: { SMTP_USER: 'relay' }, setting: 'SMTP_USER', says: /not an e-mail address/ },
    { name: 'MAIL_FROM not an address', env: { MAIL_FROM: 'contoso.com' }, setting: 'MAIL_FROM', says: /"contoso.com" is not an e-mail address/ },
    { name: 'MAIL_ALLOWED_FROM entry', env: { MAIL_ALLOWED_FROM: 'ok@contoso.com, bad@' }, setting: 'MAIL_ALLOWED_FROM', says: /"bad@"/ },
    { name: 'zero recipients', env: { MAIL_MAX_RECIPIENTS: '0' }, setting: 'MAIL_MAX_RECIPIENTS', says: /1 to 1000/ },
    { name: 'over 1000 recipients', env: { SMTP_HOST: 'mail.example.org', MAIL_MAX_RECIPIENTS: '1001' }, setting: 'MAIL_MAX_RECIPIENTS', says: /1 to 1000/ },
    { name: 'over the Exchange limit', env: { MAIL_MAX_RECIPIENTS: '501' }, setting: 'MAIL_MAX_RECIPIENTS', says: /500 recipients per message/ },
  ];
  for (const testCase of invalid) {
    it(`rejects: ${testCase.name}`, () => {
      const error = problemsOf({ ...MINIMAL, ...testCase.env });
      assert.deepEqual(
        error.problems.map((item) => item.setting),
        [testCase.setting],
        error.message,
      );
      assert.match(error.problems[0]!.problem, testCase.says);
    });
  }
});

describe('queue and storage settings', () => {
  it('expands UseDevelopmentStorage=true to the Azurite endpoints', () => {
    const connection = loadConfig(MINIMAL).queue.connection;
    assert.ok(connection.kind === 'connectionString');
    assert.match(connection.connectionString, /AccountName=devstoreaccount1;/);
    assert.match(connection.connectionString, /AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq\/K1SZFPTOtr\/KBHBeksoGMGw==;/);
    assert.match(connection.connectionString, /QueueEndpoint=http:\/\/127.0.0.1:10001\/devstoreaccount1;/);
    assert.match(connection.connectionString, /BlobEndpoint=http:\/\/127.0.0.1:10000\/devstoreaccount1;/);
  });

  it('keeps a real connection string as it is', () => {
    const text = 'DefaultEndpointsProtocol=https;AccountName=relaystore;AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5;EndpointSuffix=core.windows.net';
    assert.deepEqual(load({ AzureWebJobsStorage: text }).queue.connection, { kind: 'connectionString', connectionString: text });
  });

  it('reads an identity-based connection and derives the blob URI', () => {
    const config = load({
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net/',
      AzureWebJobsStorage__clientId: '11111111-2222-4333-8444-555555555555',
    });
    assert.deepEqual(config.queue.connection, {
      kind: 'identity',
      queueServiceUri: 'https://relaystore.queue.core.windows.net',
      blobServiceUri: 'https://relaystore.blob.core.windows.net',
      clientId: '11111111-2222-4333-8444-555555555555',
    });
  });

  it('takes an explicit blob URI and an account name', () => {
    assert.deepEqual(
      load({
        AzureWebJobsStorage: undefined,
        AzureWebJobsStorage__queueServiceUri: 'https://queues.internal.example',
        AzureWebJobsStorage__blobServiceUri: 'https://blobs.internal.example',
      }).queue.connection,
      { kind: 'identity', queueServiceUri: 'https://queues.internal.example', blobServiceUri: 'https://blobs.internal.example' },
    );
    assert.deepEqual(load({ AzureWebJobsStorage: undefined, AzureWebJobsStorage__accountName: 'relaystore' }).queue.connection, {
      kind: 'identity',
      queueServiceUri: 'https://relaystore.queue.core.windows.net',
      blobServiceUri: 'https://relaystore.blob.core.windows.net',
    });
  });

  it('reads custom queue and container names and the dequeue count', () => {
    const queue = load({
      RELAY_QUEUE_NAME: 'mail-out',
      RELAY_DEADLETTER_QUEUE_NAME: 'mail-out-failed',
      RELAY_DEADLETTER_CONTAINER: 'mail-failed',
      RELAY_MAX_DEQUEUE_COUNT: '3',
    }).queue;
    assert.deepEqual(
      [queue.queueName, queue.deadLetterQueueName, queue.deadLetterContainerName, queue.maxDequeueCount],
      ['mail-out', 'mail-out-failed', 'mail-failed', 3],
    );
  });

  const invalid: Array<{ name: string; env: Environment; setting: string; says: RegExp }> = [
    { name: 'no storage at all', env: { AzureWebJobsStorage: undefined }, setting: 'AzureWebJobsStorage', says: /is missing/ },
    {
      name: 'connection string and identity together',
      env: { AzureWebJobsStorage__queueServiceUri: 'https://relaystore.queue.core.windows.net' },
      setting: 'AzureWebJobsStorage',
      says: /either a connection string or the identity-based settings/,
    },
    {
      name: 'not a connection string',
      env: { AzureWebJobsStorage: 'relaystore' },
      setting: 'AzureWebJobsStorage',
      says: /neither AccountKey nor SharedAccessSignature/,
    },
    {
      name: 'http queue URI',
      env: { AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: 'http://relaystore.queue.core.windows.net' },
      setting: 'AzureWebJobsStorage__queueServiceUri',
      says: /https/,
    },
    {
      name: 'blob URI that cannot be derived',
      env: { AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: 'https://queues.internal.example' },
      setting: 'AzureWebJobsStorage__blobServiceUri',
      says: /cannot be derived/,
    },
    {
      name: 'client ID not a GUID',
      env: { AzureWebJobsStorage: undefined, AzureWebJobsStorage__accountName: 'relaystore', AzureWebJobsStorage__clientId: 'relay-identity' },
      setting: 'AzureWebJobsStorage__clientId',
      says: /GUID/,
    },
    { name: 'upper-case queue name', env: { RELAY_QUEUE_NAME: 'Outbound' }, setting: 'RELAY_QUEUE_NAME', says: /not a valid queue name/ },
    {
      name: 'double hyphen container',
      env: { RELAY_DEADLETTER_CONTAINER: 'mail--dead' },
      setting: 'RELAY_DEADLETTER_CONTAINER',
      says: /not a valid container name/,
    },
    {
      name: 'dead-letter queue equals queue',
      env: { RELAY_DEADLETTER_QUEUE_NAME: 'outbound-mail' },
      setting: 'RELAY_DEADLETTER_QUEUE_NAME',
      says: /equals RELAY_QUEUE_NAME/,
    },
    { name: 'dequeue count zero', env: { RELAY_MAX_DEQUEUE_COUNT: '0' }, setting: 'RELAY_MAX_DEQUEUE_COUNT', says: /out of range/ },
  ];
  for (const testCase of invalid) {
    it(`rejects: ${testCase.name}`, () => {
      const error = problemsOf({ ...MINIMAL, ...testCase.env });
      assert.deepEqual(
        error.problems.map((item) => item.setting),
        [testCase.setting],
        error.message,
      );
      assert.match(error.problems[0]!.problem, testCase.says);
    });
  }
});

describe('Key Vault references', () => {
  it('names every setting whose Key Vault reference was not resolved, once each', () => {
    const reference = '@Microsoft.KeyVault(SecretUri=https://relay-kv.vault.azure.net/secrets/smtp-relay-secret/)';
    const error = problemsOf({ ...MINIMAL, OAUTH2_CLIENT_SECRET: reference, AzureWebJobsStorage: `  ${reference}` });
    assert.deepEqual(
      error.problems.map((item) => item.setting),
      ['OAUTH2_CLIENT_SECRET', 'AzureWebJobsStorage'],
    );
    for (const problem of error.problems) {
      assert.match(problem.problem, /unresolved Key Vault reference/);
      assert.match(problem.problem, /identity cannot read the secret/);
      assert.match(problem.problem, /malformed/);
    }
  });

  it('reports a reference in a non-secret setting too', () => {
    const error = problemsOf({ ...MINIMAL, SMTP_USER: '@Microsoft.KeyVault(VaultName=relay-kv;SecretName=mailbox)' });
    assert.deepEqual(
      error.problems.map((item) => item.setting),
      ['SMTP_USER'],
    );
  });
});

describe('all problems at once', () => {
  it('lists every bad setting in one ConfigError, in reading order', () => {
    const error = problemsOf({
      SMTP_PORT: 'submission',
      SMTP_SECURITY: 'tls',
      SMTP_POOL_SIZE: '9',
      OAUTH2_TENANT_ID: TENANT,
      OAUTH2_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)',
      OAUTH2_SCOPES: 'SMTP.Send',
      OAUTH2_REFRESH_MARGIN_SECONDS: '60',
      SMTP_USER: 'relay',
      RELAY_QUEUE_NAME: 'q',
    });
    assert.deepEqual(
      error.problems.map((item) => item.setting),
      [
        'SMTP_PORT',
        'SMTP_SECURITY',
        'SMTP_POOL_SIZE',
        'SMTP_USER',
        'OAUTH2_CLIENT_ID',
        'OAUTH2_CLIENT_SECRET',
        'OAUTH2_REFRESH_MARGIN_SECONDS',
        'OAUTH2_SCOPES',
        'RELAY_QUEUE_NAME',
        'AzureWebJobsStorage',
      ],
    );
    assert.match(error.message, /^Invalid relay configuration \(10 problems\):\n- SMTP_PORT: "submission" is not a whole number\n/);
    for (const problem of error.problems) assert.ok(error.message.includes(`- ${problem.setting}: ${problem.problem}`));
    assert.equal(error.name, 'ConfigError');
    assert.ok(error instanceof Error);
  });

  it('never puts a secret value in the error, even one pasted into the wrong setting', () => {
    const storage = 'DefaultEndpointsProtocol=https;AccountName=relaystore;AccountKey=c3VwZXJzZWNyZXRrZXk=';
    const error = problemsOf({
      ...MINIMAL,
      OAUTH2_CLIENT_ID: SECRET,
      OAUTH2_CLIENT_SECRET: SECRET,
      AzureWebJobsStorage: storage,
      AzureWebJobsStorage__accountName: 'relaystore',
      SMTP_PASSWORD: 'hunter2hunter2',
      OAUTH2_ENABLED: 'maybe',
    });
    assert.ok(error.problems.some((item) => item.setting === 'OAUTH2_CLIENT_ID'));
    assert.ok(!error.message.includes(SECRET));
    assert.ok(!error.message.includes('c3VwZXJzZWNyZXRrZXk='));
    assert.ok(!error.message.includes('hunter2hunter2'));
  });
});
