/**
 * A 535 while sending names its step (issue 10, point 1). On the local stack
 * (Azurite, the Entra-shaped token endpoint through @azure/identity, the
 * Exchange-shaped SMTP server that verifies every token), one setup step is
 * broken at a time; the message is dead-lettered at once (maximum age 0) and
 * its record must name that step, with that step's remedy, not the generic list.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_TENANT_ID, type LocalStack } from '../../../local/stack';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import type { Logger } from '../../../src/core/log';
import { RelayHarness } from '../../support/relayHarness';

const OTHER_TENANT = '11111111-2222-4333-8444-555555555555';
const OTHER_APP = '99999999-8888-4777-8666-555555555555';

let stack: LocalStack;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

interface Refusal {
  record: DeadLetterRecord;
  log: string;
}

/** One message through the runtime's relay with `settings`; returns its dead-letter record and the log. */
async function refusedWith(settings: Record<string, string> = {}): Promise<Refusal> {
  const lines: string[] = [];
  const push = (level: string) => (message: string, props?: Record<string, unknown>) => void lines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);
  const logger: Logger = { info: push('info'), warn: push('warn'), error: push('error') };
  const name = `refused-${++counter}`;
  const harness = await new RelayHarness(stack, { name, runtime: true, logger, settings: { RELAY_RETRY_MAX_AGE_SECONDS: '0', ...settings } }).start();
  try {
    await harness.enqueue(name, { id: name, to: 'rcpt@example.net', subject: 'refused token', text: 'body' });
    await harness.drain(30_000);
    const result = await harness.reconcile();
    assert.equal(result.deadLettered, 1, result.summary);
    const [record] = result.deadLetters.get(name)!;
    assert.match(record!.providerReply ?? '', /^535 5\.7\.3 /, 'the provider reply is kept');
    return { record: record!, log: lines.join('\n') };
  } finally {
    await harness.close();
  }
}

/** The generic "check, in this order: …" list: it must not be what a readable token gets. */
function assertNotTheGenericList(record: DeadLetterRecord): void {
  assert.notEqual(record.reason, 'smtp_auth_rejected');
  assert.doesNotMatch(record.remedy ?? '', /Run the doctor to see which one it is/);
}

const tokenAnswer = async (claims: Parameters<LocalStack['tokenServer']['issueToken']>[0]) => ({
  status: 200,
  body: { token_type: 'Bearer', expires_in: 3600, access_token: await stack.tokenServer.issueToken(claims) },
});

test('audience not Exchange Online: the record names the scope to set, and the log says so', async () => {
  const { record, log } = await refusedWith({ OAUTH2_SCOPES: 'https://graph.microsoft.com/.default' });
  assertNotTheGenericList(record);
  assert.equal(record.reason, 'token_audience_not_exchange');
  assert.match(record.description, /aud is "https:\/\/graph\.microsoft\.com"/);
  assert.match(record.remedy ?? '', /^Set OAUTH2_SCOPES to https:\/\/outlook\.office365\.com\/\.default/);
  assert.match(log, /error .*"event":"relay\.dead_lettered".*"reason":"token_audience_not_exchange"/);
});

test('audience not Exchange Online while OAUTH2_SCOPES already asks for it: the scope is not advised again', async () => {
  const wrong = await tokenAnswer({ aud: 'https://graph.microsoft.com' });
  // The first token and the new one the relay asks for after the refusal.
  stack.tokenServer.failNext(wrong, 2);
  const { record } = await refusedWith({ OAUTH2_SCOPES: 'https://outlook.office.com/.default' });
  assertNotTheGenericList(record);
  assert.equal(record.reason, 'token_audience_not_exchange');
  assert.doesNotMatch(record.remedy ?? '', /Set OAUTH2_SCOPES/, 'never advise the value already set');
  assert.match(record.remedy ?? '', /OAUTH2_TOKEN_URL/);
  assert.match(record.description, /although OAUTH2_SCOPES is https:\/\/outlook\.office\.com\/\.default/);
});

test('no SMTP.SendAsApp in roles: the record names the API permission with admin consent (Azure step 5)', async () => {
  stack.tokenServer.setClientRoles(LOCAL_CLIENT_ID, []);
  try {
    const { record } = await refusedWith();
    assertNotTheGenericList(record);
    assert.equal(record.reason, 'token_role_missing');
    assert.match(record.description, /roles is \[\]/);
    assert.match(record.remedy ?? '', /SMTP\.SendAsApp.*Grant admin consent/);
    assert.match(record.remedy ?? '', /Setup step: Azure portal, step 5: API permission/);
  } finally {
    stack.tokenServer.setClientRoles(LOCAL_CLIENT_ID, ['SMTP.SendAsApp']);
  }
});

test('a token of another tenant: the record names OAUTH2_TENANT_ID and both tenants', async () => {
  stack.tokenServer.failNext(await tokenAnswer({ tid: OTHER_TENANT }), 2);
  const { record } = await refusedWith();
  assertNotTheGenericList(record);
  assert.equal(record.reason, 'token_wrong_tenant');
  assert.match(record.description, new RegExp(`tid is ${OTHER_TENANT}, OAUTH2_TENANT_ID is ${LOCAL_TENANT_ID}`));
  assert.match(record.remedy ?? '', /OAUTH2_TENANT_ID/);
});

test('a token of another app: the record names OAUTH2_CLIENT_ID and both apps', async () => {
  stack.smtpServer.setMailboxAccess([LOCAL_CLIENT_ID]);
  try {
    stack.tokenServer.failNext(await tokenAnswer({ appid: OTHER_APP }), 2);
    const { record } = await refusedWith();
    assertNotTheGenericList(record);
    assert.equal(record.reason, 'token_wrong_app');
    assert.match(record.description, new RegExp(`appid is ${OTHER_APP}, OAUTH2_CLIENT_ID is ${LOCAL_CLIENT_ID}`));
    assert.match(record.remedy ?? '', /Set OAUTH2_CLIENT_ID/);
  } finally {
    stack.smtpServer.setMailboxAccess(undefined);
  }
});

test('a correct token Exchange still refuses: service principal, mailbox permission, Authenticated SMTP, propagation, in that order', async () => {
  // No service principal with FullAccess for the app: Exchange refuses a token that is right in every claim.
  stack.smtpServer.setMailboxAccess([]);
  try {
    const { record } = await refusedWith();
    assertNotTheGenericList(record);
    assert.equal(record.reason, 'exchange_access_missing');
    assert.match(record.description, /audience, roles, tenant and app are what Exchange requires/);
    const remedy = record.remedy ?? '';
    const order = ['New-ServicePrincipal', 'Enterprise application', 'Add-MailboxPermission', 'Authenticated SMTP', 'up to an hour'].map((word) =>
      remedy.indexOf(word),
    );
    assert.ok(
      order.every((at) => at >= 0),
      remedy,
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      `in order of likelihood: ${remedy}`,
    );
  } finally {
    stack.smtpServer.setMailboxAccess(undefined);
  }
});

test('a token that cannot be read (not a JWT) keeps the generic list, as the last resort', async () => {
  stack.tokenServer.failNext({ status: 200, body: { token_type: 'Bearer', expires_in: 3600, access_token: 'opaque-token-of-another-kind' } }, 2);
  const { record } = await refusedWith();
  assert.equal(record.reason, 'smtp_auth_rejected');
  assert.match(record.remedy ?? '', /Check, in this order/);
});
