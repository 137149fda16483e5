/**
 * The accounting invariant under random faults: N messages go through the real
 * queue trigger path (Azurite queue, the host-like runner, the relay with its
 * ledger and retry copies, the real token endpoint and SMTP server) while
 * faults are injected at random points from a seeded generator. Afterwards
 * every message must be in exactly one place: delivered once, or dead-lettered
 * once with a reason (nothing is left queued once the queue is run dry).
 *
 * RECONCILIATION_MESSAGES (default 1000) and RECONCILIATION_SEED change the run;
 * the summary line prints both.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { SmtpFault, SmtpStage } from '../../local/smtpServer';
import type { InjectedReply } from '../../local/tokenServer';
import { RelayHarness } from '../support/relayHarness';

const MESSAGES = Number(process.env.RECONCILIATION_MESSAGES ?? 1000);
const SEED = Number(process.env.RECONCILIATION_SEED ?? 20261130);

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

/** mulberry32: a small seeded generator, so a failing run can be repeated exactly. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Injection = { name: string; inject: (harness: RelayHarness) => void };

const smtp = (name: string, stage: SmtpStage, fault: SmtpFault): Injection => ({ name, inject: () => stack.smtpServer.failNext(stage, fault) });
const token = (name: string, reply: InjectedReply): Injection => ({
  name,
  inject: (harness) => {
    // The next new connection needs a token: drop the cached one so the fault is met.
    harness.tokens?.invalidate();
    stack.tokenServer.failNext(reply);
  },
});

/** Every fault, each striking whichever command or token request comes next. */
const injections = (signedToken: string): Injection[] => [
  smtp('drop before greeting', 'connect', 'drop'),
  smtp('drop during AUTH', 'auth', 'drop'),
  smtp('drop after AUTH', 'mail', 'drop'),
  smtp('drop mid-DATA', 'data', 'drop-mid-data'),
  smtp('drop after final dot', 'data', 'drop'),
  smtp('421', 'connect', { code: 421, message: '4.3.2 Service not available, closing transmission channel' }),
  smtp('432 4.3.2', 'mail', { code: 432, message: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' }),
  smtp('451', 'data', { code: 451, message: '4.3.0 Mail server temporarily rejected message' }),
  smtp('452', 'rcpt', { code: 452, message: '4.5.3 Too many recipients' }),
  smtp('454', 'auth', { code: 454, message: '4.7.0 Temporary authentication failure' }),
  smtp('550', 'rcpt', { code: 550, message: '5.1.10 RESOLVER.ADR.RecipientNotFound' }),
  smtp('552', 'data', { code: 552, message: '5.3.4 Message size exceeds fixed maximum message size' }),
  smtp('554', 'data', { code: 554, message: '5.6.0 Corrupt message content' }),
  smtp('slow DATA reply', 'data', { stallMs: 1300 }),
  token('token 429 Retry-After', {
    status: 429,
    headers: { 'retry-after': '1' },
    body: { error: 'temporarily_unavailable', error_description: 'AADSTS50196: throttled' },
  }),
  token('token 500', { status: 500, body: { error: 'server_error', error_description: 'AADSTS50000: error issuing a token' } }),
  token('token 503', { status: 503, body: 'Service Unavailable' }),
  token('token timeout', { status: 200, delayMs: 800, body: { token_type: 'Bearer', access_token: 'late', expires_in: 3600 } }),
  token('token malformed JSON', { status: 200, body: '{"access_token":' }),
  // A valid token, but no expires_in.
  token('token without expires_in', { status: 200, body: { token_type: 'Bearer', access_token: signedToken } }),
];

test(`reconciliation: ${MESSAGES} messages under random faults end delivered once or dead-lettered once, none lost, none twice`, async () => {
  const random = seeded(SEED);
  const INJECTIONS = injections(await stack.tokenServer.issueToken());
  const firstRound = [...INJECTIONS].sort(() => random() - 0.5);
  const harness = await new RelayHarness(stack, {
    name: 'reconcile',
    tokenRequestTimeoutMs: 300,
    settings: {
      SMTP_CONNECTION_TIMEOUT_MS: '1000',
      SMTP_GREETING_TIMEOUT_MS: '1000',
      SMTP_SOCKET_TIMEOUT_MS: '1000',
      RELAY_MAX_DEQUEUE_COUNT: '10',
      RELAY_RETRY_MAX_AGE_SECONDS: '3600',
      // A copy that finds the message claimed waits for the claim's lease: short here, 10 min in production.
      RELAY_LEDGER_LEASE_SECONDS: '5',
    },
  }).start();
  const injected = new Map<string, number>();
  const count = (name: string) => injected.set(name, (injected.get(name) ?? 0) + 1);
  // Storage faults strike the calls themselves: the first call of each kind for certain, then at random.
  const storageFault = (name: string, probability: number) => () => {
    const strike = !injected.has(name) || random() < probability;
    if (strike) count(name);
    return strike;
  };
  harness.faults.deadLetterWrite = storageFault('dead-letter write fails', 0.15);
  harness.faults.retryCopyWrite = storageFault('retry copy write fails', 0.05);
  harness.faults.loseDelete = storageFault('queue delete lost', 0.03);

  for (let n = 0; n < MESSAGES; n++) {
    const key = `m${n}`;
    // One in ten without an id: the ledger keys those by their queue message id.
    const id = random() < 0.1 ? undefined : `reconcile-${SEED}-${n}`;
    await harness.enqueue(key, { ...(id ? { id } : {}), to: `user${n % 37}@example.net`, subject: `Message ${n} — ✓`, text: `body ${n}` });
  }
  // Faults at random points while the queue is worked off: after each batch, about one in twelve
  // of its messages adds a fault that strikes whichever command or token request comes next.
  await harness.drain(120_000, (handled) => {
    for (let i = 0; i < handled; i++) {
      if (random() >= 1 / 12) continue;
      // Every kind once (in a seeded random order), then any kind at random.
      const injection = firstRound.pop() ?? INJECTIONS[Math.floor(random() * INJECTIONS.length)]!;
      injection.inject(harness);
      count(injection.name);
    }
  });
  const result = await harness.reconcile();
  await harness.close();
  console.log(`${result.summary} (seed ${SEED})`);
  console.log(`faults injected: ${[...injected].map(([name, times]) => `${name} ×${times}`).join(', ')}`);

  assert.equal(result.accepted, MESSAGES);
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.queued, 0, result.summary);
  assert.equal(result.poisoned, 0, result.summary);
  assert.equal(result.delivered + result.deadLettered, MESSAGES, result.summary);
  // Only the injected permanent replies dead-letter (transient faults are retried until they pass), each with its reply.
  const permanent: Record<string, RegExp> = { recipients_rejected: /^550/, message_too_large: /^552/, smtp_permanent_failure: /^554/ };
  for (const records of result.deadLetters.values()) {
    for (const record of records) {
      assert.ok(record.reason in permanent, `unexpected dead-letter reason ${record.reason}: ${record.description}`);
      assert.match(record.providerReply ?? '', permanent[record.reason]!);
    }
  }
  assert.ok(result.deadLettered > 0, 'some permanent faults were met');
  // Every kind of fault was injected at least once.
  for (const injection of INJECTIONS) assert.ok((injected.get(injection.name) ?? 0) > 0, `${injection.name} was never injected`);
  for (const storage of ['dead-letter write fails', 'retry copy write fails', 'queue delete lost']) assert.ok((injected.get(storage) ?? 0) > 0, storage);
});
