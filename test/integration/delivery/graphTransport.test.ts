/**
 * The graph transport (issue 15, points 1–3) through the queue handler on Azurite, as
 * src/app/components.ts wires it, against GraphMailDouble (test/doubles) with tokens from the
 * local token endpoint (audience: the double's URL, roles Mail.Send / Mail.ReadWrite) and the
 * local SMTP server for the SMTP side of the comparisons and of smtp-then-graph.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { simpleParser } from 'mailparser';
import { startLocalStack, LOCAL_CLIENT_ID, LOCAL_MAILBOX, LOCAL_TENANT_ID, type LocalStack } from '../../../local/stack';
import type { Logger } from '../../../src/core/log';
import { loadConfig } from '../../../src/settings';
import { createTokenProvider } from '../../../src/token';
import { oauthOf, graphOAuth } from '../../../src/settings';
import { createGraphMailSender } from '../../../src/graph';
import { RelayHarness, headerValue, HARNESS_HEADER } from '../../support/relayHarness';
import { assertNoPieceOf } from '../../support/secretEcho';
import { replayDependencies } from '../../../src/app/replay';
import { replayDeadLetters } from '../../../src/deadletters/replay';
import { GraphMailDouble, REQUEST_LIMIT } from '../../doubles/graphMailDouble';

const OUTSIDE_MAILBOX = 'outside@example.com';
const ONPREM_MAILBOX = 'onprem@example.com';
const UNKNOWN_MAILBOX = 'nobody@example.com';

let stack: LocalStack;
let graph: GraphMailDouble;
let counter = 0;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  graph = await GraphMailDouble.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    verifyToken: async (token, audience) => {
      const result = await stack.tokenServer.verifyTokenForResource(token, audience);
      return result.ok ? result.claims : undefined;
    },
    mailboxes: [LOCAL_MAILBOX, OUTSIDE_MAILBOX, ONPREM_MAILBOX],
    allowedMailboxes: [LOCAL_MAILBOX, ONPREM_MAILBOX],
    notEnabled: [ONPREM_MAILBOX],
  });
  // Entra's roles are per resource: Graph's application permissions for Graph tokens, SMTP.SendAsApp for Exchange's.
  stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, ['Mail.Send', 'Mail.ReadWrite']);
});
after(async () => {
  await graph?.close();
  await stack?.close();
});

function recording(): Logger & { entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const push = (message: string, props?: Record<string, unknown>) => void entries.push({ message, ...props });
  return { entries, info: push, warn: push, error: push };
}

async function harnessFor(settings: Record<string, string>, logger: Logger = recording()): Promise<RelayHarness> {
  const name = `graph-${++counter}`;
  return new RelayHarness(stack, { name, runtime: true, logger, settings: { GRAPH_URL: graph.url, ...settings } }).start();
}

/** Senders outside the default one, on the same app registration, for the mailbox cases. */
function mailboxSenders(): string {
  const common = {
    tenant: LOCAL_TENANT_ID,
    authorityHost: stack.tokenServer.url,
    clientId: LOCAL_CLIENT_ID,
    credential: { secretSetting: 'OAUTH2_CLIENT_SECRET' },
  };
  return JSON.stringify([
    { id: 'outside', mailbox: OUTSIDE_MAILBOX, transport: 'graph', ...common },
    { id: 'onprem', mailbox: ONPREM_MAILBOX, transport: 'graph', ...common },
    { id: 'unknown', mailbox: UNKNOWN_MAILBOX, transport: 'graph', ...common },
  ]);
}

const sentWithKey = (key: string) => graph.sent.filter((message) => headerValue(message.mime, HARNESS_HEADER) === key);

describe('the graph transport on the local stack', () => {
  it('sends through sendMail the MIME the SMTP path sends: same Message-ID, headers and body; Bcc as a header, envelope = headers', async () => {
    const message = {
      id: `same-${randomBytes(4).toString('hex')}`,
      to: 'To One <one@example.net>',
      cc: ['two@example.net'],
      bcc: ['hidden@example.net'],
      subject: 'Grüße — the same on both wires',
      text: 'plain body\nsecond line',
      html: '<p>html body</p>',
      headers: { 'X-Ticket': 'T-42' },
      attachments: [{ filename: 'note.txt', contentType: 'text/plain', content: Buffer.from('attached text').toString('base64') }],
    };
    const smtp = await harnessFor({});
    const viaGraph = await harnessFor({ RELAY_TRANSPORT: 'graph' });
    const receivedBefore = stack.smtpServer.received.length;
    await smtp.enqueue('smtp-copy', message);
    await viaGraph.enqueue('graph-copy', message);
    await smtp.drain(60_000);
    await viaGraph.drain(60_000);
    assert.deepEqual(
      viaGraph.outcomes.map((outcome) => outcome.status),
      ['delivered'],
    );
    const smtpMessage = stack.smtpServer.received.slice(receivedBefore).find((item) => headerValue(item.raw, HARNESS_HEADER) === 'smtp-copy');
    const [graphMessage] = sentWithKey('graph-copy');
    assert.ok(smtpMessage && graphMessage, 'both copies arrived');
    assert.equal(graphMessage.via, 'sendMail');
    const a = await simpleParser(smtpMessage.raw);
    const b = graphMessage.parsed;
    assert.equal(b.messageId, a.messageId);
    assert.equal(b.subject, a.subject);
    assert.equal(b.text, a.text);
    assert.equal(b.html, a.html);
    assert.deepEqual(b.from?.value, a.from?.value);
    assert.deepEqual(JSON.stringify(b.to), JSON.stringify(a.to));
    assert.deepEqual(JSON.stringify(b.cc), JSON.stringify(a.cc));
    assert.equal(b.headers.get('x-ticket'), 'T-42');
    assert.deepEqual(
      b.attachments.map((item) => [item.filename, item.contentType, item.content.toString()]),
      a.attachments.map((item) => [item.filename, item.contentType, item.content.toString()]),
    );
    // Every header line SMTP sent is in the Graph MIME, with the same value (Date, and the boundary of the multipart, aside).
    const lines = (raw: Buffer) =>
      new Map(
        [
          ...raw
            .toString('utf8')
            .split('\r\n\r\n')[0]!
            .replace(/\r\n[ \t]+/g, ' ')
            .split('\r\n'),
        ].map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line]),
      );
    const smtpHeaders = lines(smtpMessage.raw);
    const graphHeaders = lines(graphMessage.mime);
    for (const [name, line] of smtpHeaders) {
      if (name === 'date' || name === 'content-type' || name === HARNESS_HEADER.toLowerCase()) continue;
      assert.equal(graphHeaders.get(name), line, `header ${name}`);
    }
    // Graph takes the recipients from the headers: Bcc is kept there, and they are exactly SMTP's envelope.
    assert.deepEqual(b.bcc && !Array.isArray(b.bcc) ? b.bcc.value.map((item) => item.address) : [], ['hidden@example.net']);
    assert.equal(smtpHeaders.has('bcc'), false);
    assert.deepEqual([...smtpMessage.envelope.rcptTo].sort(), ['hidden@example.net', 'one@example.net', 'two@example.net']);
    await smtp.close();
    await viaGraph.close();
  });

  it('sends a 30 MB claim-check attachment as a draft with an upload session: ranges in order, each PUT under 4 MB, no Authorization', async () => {
    const bytes = randomBytes(30 * 1024 * 1024);
    const container = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient('graph-large-files');
    await container.createIfNotExists();
    await container.getBlockBlobClient('big/thirty.bin').uploadData(bytes);
    const harness = await harnessFor({ RELAY_TRANSPORT: 'graph', RELAY_ATTACHMENT_CONTAINER: 'graph-large-files', MAIL_MAX_ATTACHMENTS_MB: '40' });
    const putsBefore = graph.puts.length;
    await harness.enqueue('large', {
      id: 'large-1',
      to: 'rcpt@example.net',
      subject: 'thirty megabytes',
      text: 'see attachment',
      attachments: [
        { filename: 'thirty.bin', contentType: 'application/octet-stream', blob: 'big/thirty.bin' },
        { filename: 'small.txt', contentType: 'text/plain', content: Buffer.from('small one').toString('base64') },
      ],
    });
    await harness.drain(120_000);
    assert.deepEqual(
      harness.outcomes.map((outcome) => outcome.status),
      ['delivered'],
    );
    const [sent] = sentWithKey('large');
    assert.ok(sent);
    assert.equal(sent.via, 'draft');
    assert.equal(sent.uploaded.length, 1);
    assert.deepEqual(sent.uploaded[0], {
      name: 'thirty.bin',
      size: bytes.length,
      contentType: 'application/octet-stream',
      isInline: false,
      contentId: undefined,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    // The small attachment rode in the draft's MIME.
    assert.deepEqual(
      sent.parsed.attachments.map((item) => [item.filename, item.content.toString()]),
      [['small.txt', 'small one']],
    );
    const puts = graph.puts.slice(putsBefore);
    assert.ok(puts.length >= 8, `${puts.length} PUTs`);
    let next = 0;
    for (const put of puts) {
      assert.equal(put.start, next);
      assert.ok(put.length < REQUEST_LIMIT);
      assert.equal(put.total, bytes.length);
      next = put.end + 1;
    }
    assert.equal(next, bytes.length);
    assert.equal(graph.uploadAuthorizations, 0);
    assert.equal(graph.drafts.size, 0, 'no draft left behind');
    await harness.close();
  });

  it('attachments under 3 MB that do not fit the draft go as fileAttachment posts, since Graph refuses upload sessions below 3 MB', async () => {
    const first = randomBytes(2_500_000);
    const second = randomBytes(2_000_000);
    const container = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient('graph-medium-files');
    await container.createIfNotExists();
    await container.getBlockBlobClient('medium/first.bin').uploadData(first);
    await container.getBlockBlobClient('medium/second.bin').uploadData(second);
    const harness = await harnessFor({ RELAY_TRANSPORT: 'graph', RELAY_ATTACHMENT_CONTAINER: 'graph-medium-files', MAIL_MAX_ATTACHMENTS_MB: '40' });
    const requestsBefore = graph.requests.length;
    await harness.enqueue('medium', {
      id: 'medium-1',
      to: 'rcpt@example.net',
      subject: 'two medium attachments',
      text: 'see attachments',
      attachments: [
        { filename: 'first.bin', contentType: 'application/octet-stream', blob: 'medium/first.bin' },
        { filename: 'second.bin', contentType: 'application/octet-stream', blob: 'medium/second.bin' },
      ],
    });
    await harness.drain(120_000);
    assert.deepEqual(
      harness.outcomes.map((outcome) => outcome.status),
      ['delivered'],
    );
    const [sent] = sentWithKey('medium');
    assert.ok(sent);
    assert.equal(sent.via, 'draft');
    const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    const delivered = new Map([
      ...sent.uploaded.map((item): [string, string] => [item.name, item.sha256]),
      ...sent.parsed.attachments.map((item): [string, string] => [item.filename ?? '', digest(item.content)]),
    ]);
    assert.deepEqual(Object.fromEntries(delivered), { 'first.bin': digest(first), 'second.bin': digest(second) });
    const requests = graph.requests.slice(requestsBefore);
    assert.ok(requests.includes('POST attachment'), requests.join(', '));
    assert.ok(!requests.includes('POST uploadSession'), `no upload session for attachments under 3 MB: ${requests.join(', ')}`);
    assert.equal(graph.drafts.size, 0, 'no draft left behind');
    await harness.close();
  });

  it('smtp-then-graph: 535 5.7.139 at AUTH sends through Graph, warns once, and the ledger records each message sent once', async () => {
    const logger = recording();
    const harness = await harnessFor({ RELAY_TRANSPORT: 'smtp-then-graph' }, logger);
    const receivedBefore = stack.smtpServer.received.length;
    stack.smtpServer.failNext('auth', { code: 535, message: '5.7.139 Authentication unsuccessful, SMTP Client Authentication is disabled for the Tenant.' }, 3);
    for (let i = 0; i < 3; i++) await harness.enqueue(`fallback-${i}`, { id: `fallback-${i}`, to: 'rcpt@example.net', subject: `fallback ${i}`, text: 'x' });
    await harness.drain(60_000);
    assert.deepEqual(
      harness.outcomes.map((outcome) => outcome.status),
      ['delivered', 'delivered', 'delivered'],
    );
    for (let i = 0; i < 3; i++) assert.equal(sentWithKey(`fallback-${i}`).length, 1);
    assert.equal(stack.smtpServer.received.length, receivedBefore, 'nothing went over SMTP');
    const warnings = logger.entries.filter((entry) => entry.event === 'relay.transport_fallback');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.sender, 'default');
    assert.match(String(warnings[0]!.reply), /5\.7\.139/);
    assert.match(String(warnings[0]!.remedy), /Authenticated SMTP/);
    // The ledger holds each as sent: the same message again is a duplicate, not a second send.
    await harness.enqueue('fallback-0', { id: 'fallback-0', to: 'rcpt@example.net', subject: 'fallback 0', text: 'x' });
    await harness.drain(60_000);
    assert.equal(harness.outcomes.at(-1)!.status, 'duplicate');
    assert.equal(sentWithKey('fallback-0').length, 1);
    await harness.close();
  });

  it("dead-letters Graph's permanent and configuration refusals with a reason and a remedy naming the step", async () => {
    const logger = recording();
    const harness = await harnessFor({ RELAY_TRANSPORT: 'graph', RELAY_SENDERS: mailboxSenders(), RELAY_RETRY_MAX_AGE_SECONDS: '0' }, logger);
    const cases: Array<{ key: string; extra?: Record<string, unknown>; inject?: () => void; reason: string; remedy: RegExp }> = [
      { key: 'policy', extra: { sender: 'outside' }, reason: 'graph_access_denied', remedy: /Mail\.Send.*admin consent.*application access policy/s },
      { key: 'onprem', extra: { sender: 'onprem' }, reason: 'graph_mailbox_not_enabled', remedy: /Exchange Online/ },
      { key: 'unknown', extra: { sender: 'unknown' }, reason: 'graph_mailbox_not_found', remedy: /SMTP_USER|mailbox/ },
      {
        key: 'recipients',
        inject: () => graph.failNext('sendMail', { status: 400, code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' }),
        reason: 'recipients_rejected',
        remedy: /recipients/,
      },
      {
        key: 'size',
        inject: () => graph.failNext('sendMail', { status: 400, code: 'ErrorMessageSizeExceeded', message: 'The message exceeds the maximum supported size.' }),
        reason: 'message_too_large',
        remedy: /MaxSendSize/,
      },
      {
        key: 'toolarge',
        inject: () => graph.failNext('sendMail', { status: 413, code: 'RequestEntityTooLarge' }),
        reason: 'message_too_large',
        remedy: /smaller/,
      },
      {
        key: 'unavailable',
        inject: () => graph.failNext('sendMail', { status: 503, code: 'ServiceUnavailable' }),
        reason: 'graph_unavailable',
        remedy: /GRAPH_URL/,
      },
    ];
    for (const item of cases) {
      item.inject?.();
      await harness.enqueue(item.key, { id: `dl-${item.key}`, to: 'rcpt@example.net', subject: item.key, text: 'x', ...item.extra });
      await harness.drain(60_000);
    }
    const result = await harness.reconcile();
    for (const item of cases) {
      const [record] = result.deadLetters.get(item.key) ?? [];
      assert.ok(record, `${item.key} dead-lettered`);
      assert.equal(record.reason, item.reason, item.key);
      assert.match(String(record.remedy), item.remedy, item.key);
      assert.match(String(record.providerReply), /HTTP \d{3}/, item.key);
      assert.equal(sentWithKey(item.key).length, 0);
    }
    // No token in any log line or dead-letter record, in any piece.
    const text = JSON.stringify(logger.entries) + JSON.stringify([...result.deadLetters.values()]);
    assert.ok(graph.tokensSeen.size > 0);
    for (const token of graph.tokensSeen) {
      assertNoPieceOf(token.split('.')[2]!, text, 'logs and dead letters');
      assert.ok(!text.includes(Buffer.from(token).toString('base64').slice(0, 40)));
    }
    await harness.close();
  });

  it('a 429 schedules a retry copy no sooner than Retry-After; a 401 drops the token and is retried once with a new one', async () => {
    const harness = await harnessFor({ RELAY_TRANSPORT: 'graph', RELAY_RETRY_MAX_DELAY_SECONDS: '3600' });
    const parts = harness.parts!.senders.get('default');
    graph.failNext('sendMail', { status: 401, code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' });
    const refreshed = await harness.handleDirect('refreshed', {
      id: 'refreshed-1',
      to: 'rcpt@example.net',
      subject: 'refreshed',
      text: 'x',
      headers: { [HARNESS_HEADER]: 'refreshed' },
    });
    assert.equal(refreshed.status, 'delivered');
    // The first token of this process, then one new one after the 401.
    assert.equal(parts.graphTokens!.stats.fetches, 2);
    assert.equal(parts.graphTokens!.stats.invalidations, 1);
    assert.equal(sentWithKey('refreshed').length, 1);

    graph.failNext('sendMail', { status: 429, code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.', retryAfter: '120' });
    const throttled = await harness.handleDirect('throttled', {
      id: 'throttled-1',
      to: 'rcpt@example.net',
      subject: 'throttled',
      text: 'x',
      headers: { [HARNESS_HEADER]: 'throttled' },
    });
    assert.equal(throttled.status, 'retry-scheduled');
    assert.equal(throttled.status === 'retry-scheduled' && throttled.reason, 'graph_throttled');
    assert.ok(throttled.status === 'retry-scheduled' && throttled.delaySeconds >= 120, JSON.stringify(throttled));
    assert.equal(sentWithKey('throttled').length, 0);
    await harness.close();
  });

  it('a large message whose draft fails is retried and its draft deleted; without Mail.ReadWrite the refusal names it', async () => {
    const bytes = randomBytes(5 * 1024 * 1024);
    const container = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient('graph-draft-files');
    await container.createIfNotExists();
    await container.getBlockBlobClient('five.bin').uploadData(bytes);
    const harness = await harnessFor({ RELAY_TRANSPORT: 'graph', RELAY_ATTACHMENT_CONTAINER: 'graph-draft-files', RELAY_RETRY_MAX_DELAY_SECONDS: '3600' });
    const large = (key: string) => ({
      id: key,
      to: 'rcpt@example.net',
      subject: key,
      text: 'x',
      headers: { [HARNESS_HEADER]: key },
      attachments: [{ filename: 'five.bin', blob: 'five.bin' }],
    });
    const deletedBefore = graph.deletedDrafts;
    graph.failNext('send', { status: 503, code: 'ServiceUnavailable', retryAfter: '7' });
    const failed = await harness.handleDirect('draft-fails', large('draft-fails'));
    assert.equal(failed.status, 'retry-scheduled');
    assert.equal(failed.status === 'retry-scheduled' && failed.reason, 'graph_unavailable');
    assert.equal(graph.deletedDrafts, deletedBefore + 1);
    assert.equal(graph.drafts.size, 0);
    assert.equal(sentWithKey('draft-fails').length, 0);

    stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, ['Mail.Send']);
    try {
      // A new token with the new roles (the cached one still has Mail.ReadWrite).
      harness.parts!.senders.get('default').graphTokens!.invalidate();
      const denied = await harness.handleDirect('no-readwrite', large('no-readwrite'));
      assert.equal(denied.status, 'retry-scheduled');
      assert.equal(denied.status === 'retry-scheduled' && denied.reason, 'graph_access_denied');
      const small = await harness.handleDirect('small-still', {
        id: 'small-still',
        to: 'rcpt@example.net',
        subject: 's',
        text: 'x',
        headers: { [HARNESS_HEADER]: 'small-still' },
      });
      assert.equal(small.status, 'delivered', 'sendMail needs Mail.Send only');
    } finally {
      stack.tokenServer.setClientResourceRoles(LOCAL_CLIENT_ID, graph.url, ['Mail.Send', 'Mail.ReadWrite']);
    }
    await harness.close();
  });

  it('replays a message dead-lettered for a Graph refusal once the cause is fixed, delivered once', async () => {
    const harness = await harnessFor({ RELAY_TRANSPORT: 'graph', RELAY_RETRY_MAX_AGE_SECONDS: '0' });
    graph.failNext('sendMail', { status: 403, code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' });
    await harness.enqueue('replayed', { id: 'graph-replayed', to: 'rcpt@example.net', subject: 'replayed', text: 'x' });
    await harness.drain(60_000);
    assert.deepEqual(
      harness.outcomes.map((outcome) => outcome.status),
      ['dead-lettered'],
    );
    const deps = replayDependencies(harness.config.queue);
    const report = await replayDeadLetters(deps, { reasons: ['graph_access_denied'] });
    assert.deepEqual(
      report.items.map((item) => item.decision),
      ['replayed'],
    );
    await harness.drain(60_000);
    assert.equal(harness.outcomes.at(-1)!.status, 'delivered');
    assert.equal(sentWithKey('replayed').length, 1);
    await harness.close();
  });

  it('never lets more than 4 requests per mailbox reach Graph at once (the gate), however many sends run', async () => {
    const config = loadConfig({ ...stack.settings, GRAPH_URL: graph.url, RELAY_TRANSPORT: 'graph' });
    const oauth = oauthOf(config.auth)!;
    const tokens = createTokenProvider(graphOAuth(oauth, config.transport!.graph), { extraCa: config.smtp.extraCa });
    const slow = await GraphMailDouble.start({
      tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
      // The token's audience is the first double's URL (GRAPH_URL): this one stands in for the same Graph.
      verifyToken: async (token) => {
        const result = await stack.tokenServer.verifyTokenForResource(token, graph.url);
        return result.ok ? result.claims : undefined;
      },
      mailboxes: [LOCAL_MAILBOX],
      delayMs: 150,
    });
    try {
      const slowSender = createGraphMailSender({
        graph: { ...config.transport!.graph, url: slow.url },
        mailbox: LOCAL_MAILBOX,
        tokens,
        extraCa: config.smtp.extraCa,
      });
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          slowSender.send({ from: LOCAL_MAILBOX, to: 'rcpt@example.net', subject: `gate ${i}`, text: 'x', disableFileAccess: true, disableUrlAccess: true }),
        ),
      );
      assert.equal(results.length, 12);
      assert.equal(slow.sent.length, 12);
      assert.equal(slow.concurrencyRefusals, 0);
      assert.equal(slow.maxConcurrent, 4);
    } finally {
      await slow.close();
    }
  });
});
