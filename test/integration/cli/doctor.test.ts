/**
 * The doctor against a local setup broken one step at a time: the Entra-shaped
 * token endpoint answers each Entra error, the Exchange-shaped SMTP server each
 * Exchange reply, and tokens come with the wrong audience or without the role.
 * Every case must stop at the right check and name the right setup step.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport } from '../../../src/cli/doctor';
import { main, runDoctor } from '../../../src/app/cli';
import type { CheckId } from '../../../src/diagnostics/checks';
import type { DiagnosisId } from '../../../src/core/diagnoses';
import { stepLabel, type SetupStepId } from '../../../src/core/setupSteps';
import { createLocalCertificates } from '../../../local/certs';
import { tempDir } from '../../support/localHelpers';
import { BUILD_ROOT } from '../../support/paths';
import { CLIENT_ID, MAILBOX, OTHER_CLIENT_ID, OTHER_TENANT_ID, startLocalTenant, type LocalTenant } from '../../support/localSetup';

let tenant: LocalTenant;
let dir: string;

before(async () => {
  tenant = await startLocalTenant();
  dir = mkdtempSync(join(tmpdir(), 'relay-doctor-'));
});

after(async () => {
  await tenant?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a correct setup: every check passes and the doctor says so', async () => {
  const report = await runDoctor({ env: tenant.settings(), sendTo: 'someone@example.net' });
  assert.deepEqual(
    report.checks.map((check) => [check.id, check.status]),
    [
      ['configuration', 'ok'],
      ['secret', 'ok'],
      ['token', 'ok'],
      ['token_claims', 'ok'],
      ['smtp_connect', 'ok'],
      ['smtp_tls', 'ok'],
      ['smtp_auth', 'ok'],
      ['test_message', 'ok'],
    ],
  );
  assert.equal(report.ok, true);
  for (const check of report.checks) assert.ok(Number.isInteger(check.durationMs) && check.durationMs >= 0);
  const text = formatReport(report);
  assert.match(text, /All checks passed/);
  assert.match(text, /aud "https:\/\/outlook\.office\.com", roles \["SMTP\.SendAsApp"\]/);
  assert.equal(tenant.smtpServer.received.at(-1)?.envelope.rcptTo[0], 'someone@example.net');
});

interface BrokenStep {
  name: string;
  overrides?: Record<string, string | undefined>;
  /** Break (and return how to repair) server-side state. */
  arrange?: (tenant: LocalTenant) => unknown;
  /** Settings computed from the tenant (for servers started by arrange). */
  settings?: (tenant: LocalTenant, arranged: unknown) => Record<string, string>;
  sendTo?: string;
  from?: string;
  failedCheck: CheckId;
  diagnosis: DiagnosisId;
  steps: SetupStepId[];
  /** Plain words the administrator must read in the report. */
  words: RegExp;
}

const EXCHANGE_STAMP = '[AM0PR01CA0001.eurprd01.prod.exchangelabs.com 2026-11-30T10:00:00.000Z 08DD0000000000]';

const cases: BrokenStep[] = [
  {
    name: 'tenant not found (AADSTS90002), seen by @azure/identity at discovery',
    overrides: { OAUTH2_TOKEN_URL: undefined, OAUTH2_TENANT_ID: OTHER_TENANT_ID, OAUTH2_AUTHORITY_HOST: 'PLACEHOLDER' },
    failedCheck: 'token',
    diagnosis: 'tenant_not_found',
    steps: ['tenantId'],
    words: /does not know the tenant[\s\S]*AADSTS90002/,
  },
  {
    name: 'application not found in the tenant (AADSTS700016)',
    overrides: { OAUTH2_CLIENT_ID: OTHER_CLIENT_ID },
    failedCheck: 'token',
    diagnosis: 'app_not_found',
    steps: ['enterpriseApplication'],
    words: /not registered in this tenant[\s\S]*AADSTS700016/,
  },
  {
    name: 'wrong client secret (AADSTS7000215)',
    overrides: { OAUTH2_CLIENT_SECRET: 'Zq8Q~a-different-secret-value' },
    failedCheck: 'token',
    diagnosis: 'invalid_client_secret',
    steps: ['clientSecret'],
    words: /secret's ID was copied instead of its Value[\s\S]*AADSTS7000215/,
  },
  {
    name: "the secret's ID pasted instead of its value",
    overrides: { OAUTH2_CLIENT_SECRET: '0c6b2d55-27a4-4f6e-9d7b-3f1a2b3c4d5e' },
    failedCheck: 'configuration',
    diagnosis: 'client_secret_is_id',
    steps: ['clientSecret'],
    words: /secret's ID was copied instead of its Value/,
  },
  {
    name: 'expired client secret (AADSTS7000222)',
    arrange: (t) => {
      t.tokenServer.expireSecret(CLIENT_ID);
      return () => t.tokenServer.setClientSecret(CLIENT_ID, tenant.settings().OAUTH2_CLIENT_SECRET!);
    },
    failedCheck: 'token',
    diagnosis: 'expired_client_secret',
    steps: ['clientSecret'],
    words: /has expired[\s\S]*AADSTS7000222/,
  },
  {
    name: 'scope not ending in /.default (caught in the settings)',
    overrides: { OAUTH2_SCOPES: 'https://outlook.office.com/SMTP.SendAsApp' },
    failedCheck: 'configuration',
    diagnosis: 'invalid_scope',
    steps: ['oauthSettings'],
    words: /OAUTH2_SCOPES.*\/\.default/,
  },
  {
    name: 'scope not ending in /.default (answered by the endpoint, AADSTS1002012)',
    overrides: { OAUTH2_PROVIDER: 'generic', OAUTH2_SCOPES: 'https://outlook.office.com/SMTP.SendAsApp' },
    failedCheck: 'token',
    diagnosis: 'invalid_scope',
    steps: ['oauthSettings'],
    words: /AADSTS1002012/,
  },
  {
    name: 'token audience is not Exchange Online',
    overrides: { OAUTH2_SCOPES: 'https://graph.microsoft.com/.default' },
    failedCheck: 'token_claims',
    diagnosis: 'token_audience_not_exchange',
    steps: ['oauthSettings'],
    words: /for another API, not Exchange Online[\s\S]*aud is "https:\/\/graph\.microsoft\.com"/,
  },
  {
    name: 'SMTP.SendAsApp missing from the roles (permission not added or not consented)',
    arrange: (t) => {
      t.tokenServer.setClientRoles(CLIENT_ID, []);
      return () => t.tokenServer.setClientRoles(CLIENT_ID, ['SMTP.SendAsApp']);
    },
    failedCheck: 'token_claims',
    diagnosis: 'token_role_missing',
    steps: ['apiPermission'],
    words: /admin consent was not granted[\s\S]*roles is \[\]/,
  },
  {
    name: '535 5.7.139: Authenticated SMTP disabled',
    arrange: (t) =>
      t.smtpServer.failNext('auth', {
        code: 535,
        message: `5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. ${EXCHANGE_STAMP}`,
      }),
    failedCheck: 'smtp_auth',
    diagnosis: 'smtp_auth_disabled',
    steps: ['authenticatedSmtp'],
    words: /Authenticated SMTP[\s\S]*535 5\.7\.139/,
  },
  {
    name: '535 5.7.3 with a good token: service principal or mailbox permission missing, or still propagating',
    // The local server answers 535 5.7.3 for a mailbox the app was not given (Add-MailboxPermission missing).
    overrides: { SMTP_USER: 'someone-else@contoso.example' },
    failedCheck: 'smtp_auth',
    diagnosis: 'exchange_access_missing',
    steps: ['servicePrincipal', 'mailboxPermission'],
    words: /wrong object ID[\s\S]*not the app registration's Object ID[\s\S]*up to an hour[\s\S]*535 5\.7\.3/,
  },
  {
    name: '430 4.2.0 STOREDRV: mailbox logon failure',
    arrange: (t) => t.smtpServer.failNext('auth', { code: 430, message: `4.2.0 STOREDRV; mailbox logon failure ${EXCHANGE_STAMP}` }),
    failedCheck: 'smtp_auth',
    diagnosis: 'mailbox_logon_failed',
    steps: ['authorizedUser'],
    words: /could not open the mailbox[\s\S]*430 4\.2\.0 STOREDRV/,
  },
  {
    name: '550 5.7.60: From is not the mailbox and no SendAs right',
    overrides: { MAIL_ALLOWED_FROM: 'boss@contoso.example' },
    arrange: (t) =>
      t.smtpServer.failNext('mail', { code: 550, message: `5.7.60 SMTP; Client does not have permissions to send as this sender ${EXCHANGE_STAMP}` }),
    sendTo: 'someone@example.net',
    from: 'boss@contoso.example',
    failedCheck: 'test_message',
    diagnosis: 'send_as_denied',
    steps: ['sendAs'],
    words: /no SendAs right[\s\S]*Add-RecipientPermission[\s\S]*550 5\.7\.60/,
  },
  {
    name: '554 5.2.252 SendAsDenied after DATA',
    overrides: { MAIL_FROM: 'boss@contoso.example' },
    arrange: (t) =>
      t.smtpServer.failNext('data', {
        code: 554,
        message: `5.2.252 SendAsDenied; ${MAILBOX} not allowed to send as boss@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied ${EXCHANGE_STAMP}`,
      }),
    sendTo: 'someone@example.net',
    failedCheck: 'test_message',
    diagnosis: 'send_as_denied',
    steps: ['fromAddress', 'sendAs'],
    words: /554 5\.2\.252 SendAsDenied/,
  },
  {
    name: 'SMTP host name does not resolve (DNS)',
    overrides: { SMTP_HOST: 'smtp.no-such-host.invalid' },
    failedCheck: 'smtp_connect',
    diagnosis: 'smtp_unreachable',
    steps: ['emailServer'],
    words: /could not be reached[\s\S]*(ENOTFOUND|EAI_AGAIN)/,
  },
  {
    name: 'nothing listens on SMTP_PORT (connection refused)',
    overrides: { SMTP_PORT: 'CLOSED' },
    failedCheck: 'smtp_connect',
    diagnosis: 'smtp_unreachable',
    steps: ['emailServer'],
    words: /ECONNREFUSED/,
  },
  {
    name: 'the server refuses the session at its greeting',
    arrange: (t) => t.smtpServer.failNext('connect', { code: 554, message: '5.7.1 Service unavailable; Client host [203.0.113.9] blocked using Spamhaus' }),
    failedCheck: 'smtp_connect',
    diagnosis: 'smtp_session_refused',
    steps: ['emailServer'],
    words: /refused the SMTP session[\s\S]*554 5\.7\.1/,
  },
  {
    name: 'TLS from the first byte against a STARTTLS port',
    overrides: { SMTP_SECURITY: 'implicit' },
    failedCheck: 'smtp_tls',
    diagnosis: 'smtp_tls_failed',
    steps: ['emailServer'],
    words: /secure connection[\s\S]*SMTP_SECURITY matches the port/,
  },
  {
    name: "the SMTP server's certificate is not signed by a trusted CA",
    arrange: async (t) => {
      const other = await createLocalCertificates(await tempDir('relay-other-ca-'));
      return t.extraSmtpServer({ tls: { certPem: other.certPem, keyPem: other.keyPem } });
    },
    settings: (t, server) => t.settings({ SMTP_PORT: String((server as { port: number }).port) }),
    failedCheck: 'smtp_tls',
    diagnosis: 'smtp_tls_failed',
    steps: ['emailServer'],
    words: /TLS_EXTRA_CA_FILE[\s\S]*What was seen:.*(certificate|UNABLE_TO_VERIFY|self-signed)/i,
  },
  {
    name: 'the server offers no AUTH',
    arrange: async (t) => t.extraSmtpServer({ offerAuth: false }),
    settings: (t, server) => t.settings({ SMTP_PORT: String((server as { port: number }).port) }),
    failedCheck: 'smtp_auth',
    diagnosis: 'smtp_auth_not_offered',
    steps: ['authenticatedSmtp'],
    words: /never sends unauthenticated/,
  },
  {
    name: 'the token endpoint cannot be reached',
    overrides: { OAUTH2_TOKEN_URL: 'https://127.0.0.1:1/PLACEHOLDER' },
    failedCheck: 'token',
    diagnosis: 'token_endpoint_unavailable',
    steps: ['network'],
    words: /ECONNREFUSED|could not be reached/,
  },
];

describe('the doctor names the broken setup step', () => {
  for (const item of cases) {
    test(item.name, async () => {
      const arranged = await item.arrange?.(tenant);
      try {
        const env = item.settings ? item.settings(tenant, arranged) : tenant.settings(resolveOverrides(item.overrides ?? {}));
        const report = await runDoctor({ env, sendTo: item.sendTo, from: item.from });
        assert.equal(report.ok, false);
        const failure = report.firstFailure!;
        assert.equal(failure.id, item.failedCheck, JSON.stringify(failure));
        assert.equal(failure.finding?.diagnosis, item.diagnosis, JSON.stringify(failure.finding));
        for (const step of item.steps) assert.ok(failure.finding.steps.includes(stepLabel(step)), `names ${stepLabel(step)}`);
        // The doctor stops at the first failure: everything after it is reported as not run.
        const after = report.checks.slice(report.checks.indexOf(failure) + 1);
        assert.ok(after.every((check) => check.status === 'skipped' && /not run/.test(check.detail ?? '')));
        const text = formatReport(report);
        assert.match(text, item.words);
        for (const step of item.steps) assert.ok(text.includes(stepLabel(step)), `report names ${stepLabel(step)}`);
        assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}/, 'no token in the report');
        assert.ok(!text.includes('local-doctor-secret'), 'no secret in the report');
        assert.ok(!JSON.stringify(report).includes('eyJ'), 'no token in the JSON report');
      } finally {
        if (typeof arranged === 'function') arranged();
      }
    });
  }
});

/** Placeholders that need the running servers. */
function resolveOverrides(overrides: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...overrides };
  if (out.OAUTH2_AUTHORITY_HOST === 'PLACEHOLDER') out.OAUTH2_AUTHORITY_HOST = tenant.tokenServer.url;
  if (out.OAUTH2_TOKEN_URL?.endsWith('PLACEHOLDER')) out.OAUTH2_TOKEN_URL = `https://127.0.0.1:1/${OTHER_TENANT_ID}/oauth2/v2.0/token`;
  if (out.SMTP_PORT === 'CLOSED') out.SMTP_PORT = '1';
  if (out.OAUTH2_PROVIDER === 'generic') out.OAUTH2_TOKEN_URL = tenant.tokenServer.genericTokenUrl;
  return out;
}

describe('the package command', () => {
  const cli = join(BUILD_ROOT, 'src', 'cli', 'bin.js');

  /** Runs the compiled command in a child process (asynchronously: the local servers live in this process). */
  function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
    });
  }

  test('`doctor --settings local.settings.json` runs as a program: exit 0 when all is well, 1 with the step when not', async () => {
    const good = join(dir, 'good.settings.json');
    writeFileSync(good, JSON.stringify({ IsEncrypted: false, Values: { FUNCTIONS_WORKER_RUNTIME: 'node', ...tenant.settings() } }));
    const ok = await runCli(['doctor', '--settings', good]);
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /All checks passed/);

    const bad = join(dir, 'bad.settings.json');
    // A flat settings object, as the local run keeps in .local/settings.json.
    writeFileSync(bad, JSON.stringify(tenant.settings({ OAUTH2_CLIENT_ID: OTHER_CLIENT_ID })));
    const failed = await runCli(['doctor', '--settings', bad]);
    assert.equal(failed.status, 1);
    assert.ok(failed.stdout.includes(stepLabel('enterpriseApplication')), failed.stdout);
  });

  test('`doctor --json` prints the report as JSON', async () => {
    let out = '';
    const code = await main(['doctor', '--json'], { env: tenant.settings(), out: (text) => (out += text), err: () => {} });
    assert.equal(code, 0);
    const report = JSON.parse(out);
    assert.equal(report.ok, true);
    assert.equal(report.checks.length, 7);
  });
});
