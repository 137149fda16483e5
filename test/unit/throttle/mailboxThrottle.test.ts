import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MailboxThrottle, type Clock, type MailboxThrottleOptions } from '../../../src/throttle/mailboxThrottle';
import { RelayError } from '../../../src/core/errors';

/** Time moves only when the test advances it; due timers then run in order. */
class FakeClock implements Clock {
  time = 0;
  private timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, ms: number) {
    const timer = { at: this.time + ms, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }
  /** Runs every timer due up to `until`, letting promises settle after each. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const due = this.timers.filter((timer) => !timer.cancelled && timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.time = due.at;
      due.callback();
    }
    this.time = until;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function throttle(clock: FakeClock, options: Partial<MailboxThrottleOptions>) {
  return new MailboxThrottle({ messagesPerWindow: 3, windowMs: 60_000, maxWaitMs: 3_600_000, backoffMs: 1000, clock, ...options });
}

/** Starts `count` sends that each take `durationMs`, and returns when each started. */
async function burst(clock: FakeClock, subject: MailboxThrottle, count: number, durationMs: number): Promise<number[]> {
  const starts: number[] = [];
  const sends = Array.from({ length: count }, async () => {
    const release = await subject.acquire();
    starts.push(clock.now());
    await new Promise<void>((resolve) => clock.setTimer(resolve, durationMs));
    release();
  });
  await clock.runUntil(clock.now() + 1_000_000);
  await Promise.all(sends);
  return starts;
}

describe('MailboxThrottle', () => {
  it('never lets more than N sends fall in one window, counting from when each send finished', async () => {
    const clock = new FakeClock();
    const subject = throttle(clock, { messagesPerWindow: 3, windowMs: 60_000 });
    const starts = await burst(clock, subject, 7, 500);
    assert.deepEqual(starts, [0, 0, 0, 60_500, 60_500, 60_500, 121_000]);
    assert.equal(subject.stats.waited, 4);
  });

  it('hands a send back to the queue (smtp_throttled with a retry hint) when its turn is too far away', async () => {
    const subject = throttle(new FakeClock(), { messagesPerWindow: 1, windowMs: 60_000, maxWaitMs: 30_000 });
    const release = await subject.acquire();
    release();
    await assert.rejects(subject.acquire(), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.reason, 'smtp_throttled');
      assert.equal(error.kind, 'transient');
      assert.equal(error.retryAfterSeconds, 60);
      return true;
    });
    assert.equal(subject.stats.deferred, 1);
  });

  it('pauses after a throttling reply, doubling on consecutive ones and honouring the server hint, until a success', async () => {
    const clock = new FakeClock();
    const subject = throttle(clock, { messagesPerWindow: 0, backoffMs: 10_000 });
    subject.recordThrottled();
    assert.equal(subject.pausedForMs(), 10_000);
    const starts = await burst(clock, subject, 1, 0);
    assert.deepEqual(starts, [10_000], 'the next send waited out the pause');
    subject.recordThrottled();
    assert.equal(subject.pausedForMs(), 20_000, 'doubled');
    clock.time += 20_000;
    subject.recordThrottled(300);
    assert.equal(subject.pausedForMs(), 300_000, 'the server asked for longer');
    clock.time += 300_000;
    subject.recordSuccess();
    subject.recordThrottled();
    assert.equal(subject.pausedForMs(), 10_000, 'back to the first step after a success');
    assert.equal(subject.stats.throttledReplies, 4);
  });

  it('a pause for a named condition (the daily quota) hands waiting and new sends back with its reason, not to sleep inside the invocation', async () => {
    const clock = new FakeClock();
    const subject = throttle(clock, { messagesPerWindow: 1, windowMs: 60_000, maxWaitMs: 120_000 });
    const first = await subject.acquire();
    const waiting = subject.acquire(); // waits for the window
    first();
    const quota = new RelayError('SMTP: the mailbox reached its daily sending limit.', {
      reason: 'quota_exceeded',
      kind: 'transient',
      providerReply: '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException',
      remedy: 'wait',
      retryAfterSeconds: 3600,
    });
    subject.recordThrottled(quota.retryAfterSeconds, quota);
    for (const attempt of [waiting, subject.acquire()]) {
      await assert.rejects(attempt, (error: unknown) => {
        assert.ok(error instanceof RelayError);
        assert.equal(error.reason, 'quota_exceeded');
        assert.equal(error.providerReply, quota.providerReply);
        assert.equal(error.retryAfterSeconds, 3600);
        return true;
      });
    }
    subject.recordSuccess();
    clock.time += 3600_000;
    (await subject.acquire())();
  });

  it('with no rate limit and no throttling reply, never waits', async () => {
    const clock = new FakeClock();
    const subject = throttle(clock, { messagesPerWindow: 0, maxWaitMs: 0 });
    const starts = await burst(clock, subject, 50, 10);
    assert.ok(starts.every((start) => start === 0));
    assert.equal(subject.stats.waited, 0);
  });
});
