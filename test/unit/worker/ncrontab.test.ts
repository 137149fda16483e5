/** The plain worker's timer reads MONITOR_SCHEDULE as the Functions timer does: six NCRONTAB fields, UTC. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextOccurrence, parseNcrontab } from '../../../src/worker/ncrontab';
import { DEFAULT_MONITOR_SCHEDULE } from '../../../src/settings';

const at = (iso: string) => new Date(iso);
const next = (expression: string, after: string) => nextOccurrence(expression, at(after)).toISOString();

test('the default schedule fires every quarter hour, on the second 0, strictly after the given time', () => {
  assert.equal(DEFAULT_MONITOR_SCHEDULE, '0 */15 * * * *');
  assert.equal(next(DEFAULT_MONITOR_SCHEDULE, '2026-12-01T10:07:31.500Z'), '2026-12-01T10:15:00.000Z');
  assert.equal(next(DEFAULT_MONITOR_SCHEDULE, '2026-12-01T10:15:00.000Z'), '2026-12-01T10:30:00.000Z');
  assert.equal(next(DEFAULT_MONITOR_SCHEDULE, '2026-12-31T23:59:59.000Z'), '2027-01-01T00:00:00.000Z');
});

test('ranges, lists, steps, names and weekday 7 as Sunday', () => {
  assert.equal(next('0 30 9 * * Mon-Fri', '2026-12-05T12:00:00Z'), '2026-12-07T09:30:00.000Z', 'Saturday → Monday');
  assert.equal(next('0 0 8,20 * * *', '2026-12-01T09:00:00Z'), '2026-12-01T20:00:00.000Z');
  assert.equal(next('0 0 0 * * 7', '2026-12-01T00:00:00Z'), '2026-12-06T00:00:00.000Z', 'Sunday');
  assert.equal(next('0 0 0 1 jan *', '2026-12-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
  assert.equal(next('5/20 * * * * *', '2026-12-01T00:00:26Z'), '2026-12-01T00:00:45.000Z');
  assert.equal(next('0 0 12 29 2 *', '2026-03-01T00:00:00Z'), '2028-02-29T12:00:00.000Z', 'the next leap day');
  // Day and weekday both restricted: a day must match both.
  assert.equal(next('0 0 0 13 * 5', '2026-12-01T00:00:00Z'), '2027-08-13T00:00:00.000Z', 'the next Friday the 13th');
});

test('an expression it cannot read, or one that never fires, is an error naming the problem', () => {
  assert.throws(() => parseNcrontab('0 */15 * * *'), /5 fields, not six/);
  assert.throws(() => parseNcrontab('0 61 * * * *'), /minute field "61"/);
  assert.throws(() => parseNcrontab('0 0 0 * * Funday'), /weekday field "Funday"/);
  assert.throws(() => parseNcrontab('0 */0 * * * *'), /minute field/);
  assert.throws(() => parseNcrontab('0 9-5 * * * *'), /minute field "9-5"/);
  assert.throws(() => nextOccurrence('0 0 0 31 2 *', at('2026-12-01T00:00:00Z')), /does not fire within 5 years/);
});
