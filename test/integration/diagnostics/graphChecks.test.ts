/**
 * The doctor and the health endpoint for Graph senders (issue 15 point 4), on the local
 * stack (the Entra-shaped token endpoint: Graph tokens carry the double's URL as audience
 * and the roles set per resource) and GraphMailDouble (test/doubles). Each broken step is
 * reported by name: a missing Mail.Send, a token for the wrong API, a mailbox outside the
 * application access policy, a mailbox not enabled for Graph. A Graph-only sender skips
 * the SMTP checks; smtp-then-graph gets both, and its SMTP AUTH refusal is a warning.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID, type LocalStack } from '../../../local/stack';
import { runDoctor } from '../../../src/app/cli';
import { formatReport } from '../../../src/cli/doctor';
import { createRelayComponents, type RelayComponents } from '../../../src/app/components';
import { diagnosticTarget, senderTargets } from '../../../src/app/diagnostics';
import { createHealthHandler } from '../../../src/http/health';
import { loadConfig } from '../../../src/settings';
import { silentLogger } from '../../../src/core/log';
import { stepLabel } from '../../../src/core/setupSteps';
import type { CheckReport, CheckResult } from '../../../src/diagnostics/checks';
import { GraphMailDouble } from '../../doubles/graphMailDouble';

const OUTSIDE_MAILBOX = 'outside@example.com';
const ONPREM_MAILBOX = 'onprem@example.com';
const BOTH = ['Mail.Send', 'Mail.ReadWrite'];

let stack: LocalStack;
let graph: GraphMailDouble;
const relays: RelayComponents[] = [];

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  graph = await GraphMailDouble.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    verifyToken: async (token, audience) => {
      const result = await stack.tokenServer.verifyTokenForResource(token, audience);
      return result.ok ? result.claims : undefined;
    },
    mailboxes: [LOCAL_MAILBOX, OUTSIDE_MAILBOX, ONPREM_MAILBOX],
    // The application access policy's group holds the relay's mailbox (and the on-premises one, which Graph cannot serve anyway).
    allowedMailboxes: [LOCAL_MAILBOX, ONPREM_MAILBOX],
    notEnabled: [ONPREM_MAILBOX],
  });
  // Entra's roles are per resource: Graph's application permissions for Graph tokens, SMTP.SendAsApp for Exchange's.
  stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, BOTH);
});

after(async () => {
  for (const relay of relays) for (const one of relay.senders.built()) one.sender.close();
  await graph?.close();
  await stack?.close();
});

/** Graph's roles for this test (Entra's are per resource), restored afterwards. */
async function withGraphRoles<T>(roles: string[], work: () => Promise<T>): Promise<T> {
  stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, roles);
  try {
    return await work();
  } finally {
    stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, BOTH);
  }
}

const settings = (overrides: Record<string, string> = {}) => ({ ...stack.settings, RELAY_TRANSPORT: 'graph', GRAPH_URL: graph.url, ...overrides });
const statuses = (report: Pick<CheckReport, 'checks'>) => Object.fromEntries(report.checks.map((check) => [check.id, check.status]));
const checkOf = (report: Pick<CheckReport, 'checks'>, id: string) => report.checks.find((check) => check.id === id) as CheckResult;
const SMTP_SKIPPED = { token: 'skipped', token_claims: 'skipped', smtp_connect: 'skipped', smtp_tls: 'skipped', smtp_auth: 'skipped' };

describe('doctor, transport graph', () => {
  test('a correct setup: the Graph token, its claims and the mailbox pass, the SMTP checks are skipped, the test message goes through Graph', async () => {
    await withGraphRoles(BOTH, async () => {
      const before = graph.sent.length;
      const report = await runDoctor({ env: settings(), sendTo: 'someone@example.net' });
      assert.deepEqual(statuses(report), {
        configuration: 'ok',
        secret: 'ok',
        ...SMTP_SKIPPED,
        graph_token: 'ok',
        graph_token_claims: 'ok',
        graph_mailbox: 'ok',
        test_message: 'ok',
      });
      assert.equal(report.ok, true);
      assert.match(checkOf(report, 'configuration').detail!, new RegExp(`^Microsoft Graph ${graph.url} as ${LOCAL_MAILBOX}`));
      assert.match(checkOf(report, 'graph_token_claims').detail!, /roles \["Mail\.Send","Mail\.ReadWrite"\].*Mail\.ReadWrite granted/);
      assert.match(checkOf(report, 'smtp_connect').detail!, /the transport is graph/);
      assert.equal(graph.sent.length, before + 1, 'the test message went through Graph');
      assert.equal(graph.sent.at(-1)!.mailbox, LOCAL_MAILBOX);
      assert.ok(graph.requests.includes('GET mailFolders'), 'the drafts folder was read');
    });
  });

  test('Mail.Send alone: claims ok, Mail.ReadWrite noted as needed for large messages; the mailbox is proven only by a test message', async () => {
    await withGraphRoles(['Mail.Send'], async () => {
      const asked = graph.requests.length;
      const report = await runDoctor({ env: settings() });
      assert.equal(report.ok, true);
      assert.equal(checkOf(report, 'graph_token_claims').status, 'ok');
      assert.match(checkOf(report, 'graph_token_claims').detail!, /no Mail\.ReadWrite: messages over 3 MB .* will be refused/);
      const mailbox = checkOf(report, 'graph_mailbox');
      assert.equal(mailbox.status, 'skipped');
      assert.match(
        mailbox.detail!,
        /^With Mail\.Send alone Graph offers nothing to read\. Only a message proves the mailbox: oauth2-smtp-relay doctor --send-to <address>/,
      );
      assert.equal(graph.requests.length, asked, 'nothing asked of Graph: with Mail.Send there is nothing to read');
    });
  });

  test('no Mail.Send among the roles: reported by name (graph_role_missing) with its setup steps, as a warning (RBAC for Applications tokens carry no role)', async () => {
    await withGraphRoles([], async () => {
      const report = await runDoctor({ env: settings() });
      const claims = checkOf(report, 'graph_token_claims');
      assert.equal(claims.status, 'warning');
      assert.equal(claims.finding?.diagnosis, 'graph_role_missing');
      assert.deepEqual(claims.finding?.steps, [stepLabel('graphPermission'), stepLabel('graphMailboxScope')]);
      assert.match(claims.finding.observed!, /roles is \[\]/);
      // The drafts folder is tried (RBAC may grant Mail.ReadWrite); Graph's 403 leaves the mailbox unproven, not failed.
      assert.equal(checkOf(report, 'graph_mailbox').status, 'skipped');
      assert.match(
        checkOf(report, 'graph_mailbox').detail!,
        /ErrorAccessDenied .* reading the drafts folder, as when RBAC for Applications grants Application Mail\.Send alone\. Only a message proves the mailbox/,
      );
      assert.match(formatReport(report), /graph_role_missing|Mail\.Send/);
    });
  });

  test('a token for another API (an endpoint that ignores the scope): graph_token_claims fails, graph_token_audience', async () => {
    stack.tokenServer.pinAudience(LOCAL_CLIENT_ID, 'https://outlook.office.com');
    try {
      const report = await runDoctor({ env: settings() });
      const claims = checkOf(report, 'graph_token_claims');
      assert.equal(claims.status, 'failed');
      assert.equal(claims.finding?.diagnosis, 'graph_token_audience');
      assert.match(
        claims.finding.observed!,
        new RegExp(`aud is "https://outlook\\.office\\.com", Graph is ${graph.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
      assert.equal(report.ok, false);
    } finally {
      stack.tokenServer.pinAudience(LOCAL_CLIENT_ID, undefined);
    }
  });

  test('a mailbox outside the application access policy: graph_mailbox fails, graph_access_denied, naming the scope', async () => {
    const report = await runDoctor({ env: settings({ SMTP_USER: OUTSIDE_MAILBOX, MAIL_FROM: OUTSIDE_MAILBOX }) });
    const mailbox = checkOf(report, 'graph_mailbox');
    assert.equal(mailbox.status, 'failed');
    assert.equal(mailbox.finding?.diagnosis, 'graph_access_denied');
    assert.match(mailbox.finding.providerReply!, /HTTP 403 ErrorAccessDenied/);
    assert.match(mailbox.finding.fix, /application access policy/);
    assert.equal(report.ok, false);
  });

  test('a mailbox not enabled for Graph (on-premises or unlicensed): graph_mailbox fails, graph_mailbox_not_enabled', async () => {
    const report = await runDoctor({ env: settings({ SMTP_USER: ONPREM_MAILBOX, MAIL_FROM: ONPREM_MAILBOX }) });
    const mailbox = checkOf(report, 'graph_mailbox');
    assert.equal(mailbox.status, 'failed');
    assert.equal(mailbox.finding?.diagnosis, 'graph_mailbox_not_enabled');
    assert.match(mailbox.finding.providerReply!, /MailboxNotEnabledForRESTAPI/);
  });
});

describe('doctor, transport smtp-then-graph', () => {
  test('both the SMTP and the Graph checks; with --send-to one message each way', async () => {
    const smtpBefore = stack.smtpServer.received.length;
    const graphBefore = graph.sent.length;
    const report = await runDoctor({ env: settings({ RELAY_TRANSPORT: 'smtp-then-graph' }), sendTo: 'someone@example.net' });
    assert.deepEqual(statuses(report), {
      configuration: 'ok',
      secret: 'ok',
      token: 'ok',
      token_claims: 'ok',
      smtp_connect: 'ok',
      smtp_tls: 'ok',
      smtp_auth: 'ok',
      graph_token: 'ok',
      graph_token_claims: 'ok',
      graph_mailbox: 'ok',
      test_message: 'ok',
      graph_test_message: 'ok',
    });
    assert.match(checkOf(report, 'configuration').detail!, /^SMTP .*, then Microsoft Graph /);
    assert.equal(stack.smtpServer.received.length, smtpBefore + 1);
    assert.equal(graph.sent.length, graphBefore + 1);
  });

  test('SMTP AUTH disabled (535 5.7.139): a warning, since the sender then sends through Graph, which is checked', async () => {
    stack.smtpServer.failNext('auth', { code: 535, message: '5.7.139 Authentication unsuccessful, SMTP Client Authentication is disabled for the Tenant.' }, 1);
    const report = await runDoctor({ env: settings({ RELAY_TRANSPORT: 'smtp-then-graph' }) });
    const auth = checkOf(report, 'smtp_auth');
    assert.equal(auth.status, 'warning');
    assert.equal(auth.finding?.diagnosis, 'smtp_auth_disabled');
    assert.match(auth.detail!, /sends through Microsoft Graph instead/);
    assert.equal(checkOf(report, 'graph_mailbox').status, 'ok');
    assert.equal(report.ok, true);
  });
});

describe('GET /api/health with a Graph sender', () => {
  test('per sender: the Graph sender has the Graph checks, each failure named, bounded and without a token', async () => {
    const env = {
      ...stack.settings,
      GRAPH_URL: graph.url,
      RELAY_SENDERS: JSON.stringify([
        {
          id: 'outside',
          mailbox: OUTSIDE_MAILBOX,
          transport: 'graph',
          tenant: LOCAL_TENANT_ID,
          authorityHost: stack.tokenServer.url,
          clientId: LOCAL_CLIENT_ID,
          credential: { secretSetting: 'OAUTH2_CLIENT_SECRET' },
        },
      ]),
    };
    const components = createRelayComponents(loadConfig(env), silentLogger);
    relays.push(components);
    const handler = createHealthHandler(() => diagnosticTarget(() => components), { senders: () => senderTargets(() => components) });
    const answer = await handler({ method: 'GET', query: new URLSearchParams(), headers: { get: () => null }, body: null });
    assert.equal(answer.status, 503, JSON.stringify(answer.jsonBody));
    const body = answer.jsonBody as { senders: Array<{ sender: string; status: string; checks: CheckResult[] }> };
    const [first, outside] = body.senders;
    assert.equal(first!.sender, 'default');
    assert.equal(first!.status, 'healthy');
    assert.ok(!first!.checks.some((check) => check.id.startsWith('graph_')), 'an SMTP sender has no Graph checks');
    assert.equal(outside!.sender, 'outside');
    assert.deepEqual(statuses(outside!), {
      configuration: 'ok',
      secret: 'ok',
      ...SMTP_SKIPPED,
      graph_token: 'ok',
      graph_token_claims: 'ok',
      graph_mailbox: 'failed',
    });
    assert.equal(checkOf(outside!, 'graph_mailbox').finding?.diagnosis, 'graph_access_denied');
    const text = JSON.stringify(answer.jsonBody);
    for (const token of graph.tokensSeen) assert.equal(text.includes(token), false, 'no Graph token in the answer');
    assert.ok(text.length < 64 * 1024, `bounded: ${text.length} characters`);
  });
});
