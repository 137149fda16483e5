import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MailboxThrottle } from '../../src/throttle/mailboxThrottle';
import { RelayError } from '../../src/errors';

/** A clock that only moves when a send sleeps, so slot times are exact. */
function fakeClock() {
  const clock = { now: 0, slept: [] as number[] };
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.now += ms;
    },
  };
}

describe('MailboxThrottle', () => {
  it('lets the first N sends of a window go at once, then spaces the rest a window apart', async () => {
    const { clock, now, sleep } = fakeClock();
    const throttle = new MailboxThrottle({ messagesPerWindow: 3, windowMs: 60_000, maxWaitMs: 120_000, backoffMs: 1000, now, sleep });
    const starts: number[] = [];
    for (let i = 0; i < 7; i++) {
      await throttle.acquire();
      starts.push(clock.now);
    }
    assert.deepEqual(starts, [0, 0, 0, 60_000, 60_000, 60_000, 120_000]);
    // Never more than 3 starts in any 60 s window.
    for (const start of starts) assert.ok(starts.filter((t) => t >= start && t < start + 60_000).length <= 3);
  });

  it('reserves slots in call order for concurrent callers', async () => {
    const slots: number[] = [];
    const throttle = new MailboxThrottle({
      messagesPerWindow: 2,
      windowMs: 1000,
      maxWaitMs: 10_000,
      backoffMs: 1000,
      now: () => 0,
      sleep: async (ms) => void slots.push(ms),
    });
    await Promise.all([throttle.acquire(), throttle.acquire(), throttle.acquire(), throttle.acquire(), throttle.acquire()]);
    assert.deepEqual(slots, [1000, 1000, 2000], 'three of five wait, a window apart per pair');
    assert.equal(throttle.stats.waited, 3);
  });

  it('hands a send back to the queue (smtp_throttled with a retry hint) when its slot is too far away', async () => {
    const { now, sleep } = fakeClock();
    const throttle = new MailboxThrottle({ messagesPerWindow: 1, windowMs: 60_000, maxWaitMs: 30_000, backoffMs: 1000, now, sleep });
    await throttle.acquire();
    await assert.rejects(throttle.acquire(), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.reason, 'smtp_throttled');
      assert.equal(error.kind, 'transient');
      assert.equal(error.retryAfterSeconds, 60);
      return true;
    });
    assert.equal(throttle.stats.deferred, 1);
  });

  it('pauses after a throttling reply, doubling on consecutive ones and honouring the server hint, until a success', async () => {
    const { clock, now, sleep } = fakeClock();
    const throttle = new MailboxThrottle({ messagesPerWindow: 0, windowMs: 60_000, maxWaitMs: 3_600_000, backoffMs: 10_000, now, sleep });
    throttle.recordThrottled();
    assert.equal(throttle.pausedForMs(), 10_000);
    await throttle.acquire();
    assert.equal(clock.now, 10_000, 'the next send waited out the pause');
    throttle.recordThrottled();
    assert.equal(throttle.pausedForMs(), 20_000, 'doubled');
    clock.now += 20_000;
    throttle.recordThrottled(300);
    assert.equal(throttle.pausedForMs(), 300_000, 'the server asked for longer');
    clock.now += 300_000;
    throttle.recordSuccess();
    throttle.recordThrottled();
    assert.equal(throttle.pausedForMs(), 10_000, 'back to the first step after a success');
    assert.equal(throttle.stats.throttledReplies, 4);
  });

  it('with no rate limit and no throttling, never waits', async () => {
    const { clock, now, sleep } = fakeClock();
    const throttle = new MailboxThrottle({ messagesPerWindow: 0, windowMs: 60_000, maxWaitMs: 0, backoffMs: 1000, now, sleep });
    for (let i = 0; i < 100; i++) await throttle.acquire();
    assert.equal(clock.now, 0);
    assert.deepEqual(clock.slept, []);
  });
});
