import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyGate } from '../../../src/throttle/concurrencyGate';

test('runs at most `capacity` tasks at once, the rest in arrival order, and passes results and errors through', async () => {
  const gate = new ConcurrencyGate(2);
  const releases: Array<() => void> = [];
  const started: number[] = [];
  let running = 0;
  let highest = 0;
  const tasks = [0, 1, 2, 3, 4].map((i) =>
    gate.run(async () => {
      started.push(i);
      running++;
      highest = Math.max(highest, running);
      await new Promise<void>((release) => releases.push(release));
      running--;
      if (i === 3) throw new Error('task 3 failed');
      return i * 10;
    }),
  );
  const outcomes = Promise.allSettled(tasks);
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  await settle();
  assert.deepEqual(started, [0, 1]);
  while (releases.length > 0) {
    releases.shift()!();
    await settle();
  }
  const results = await outcomes;
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(highest, 2);
  assert.deepEqual(
    results.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as Error).message)),
    [0, 10, 20, 'task 3 failed', 40],
  );
  // The failed task gave its slot back: the gate still admits two at once.
  let concurrent = 0;
  let peak = 0;
  await Promise.all(
    [1, 2, 3].map(() =>
      gate.run(async () => {
        concurrent++;
        peak = Math.max(peak, concurrent);
        await settle();
        concurrent--;
      }),
    ),
  );
  assert.equal(peak, 2);
});
