/** The time arguments of the dead-letter commands: durations for --older-than and --since, ISO times for --since. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseSince } from '../../../src/deadletters/records';

test('durations in minutes, hours and days; anything else is refused', () => {
  assert.equal(parseDuration('30m'), 30 * 60_000);
  assert.equal(parseDuration('12h'), 12 * 3_600_000);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration('0m'), 0);
  for (const text of ['7', 'd', '7 days', '-1d', '1.5h', '7w', '1e3d', '9999999d', '']) assert.equal(parseDuration(text), undefined, text);
});

test('--since is a duration back from now or an ISO 8601 time', () => {
  const now = new Date('2026-12-01T12:00:00.000Z');
  assert.equal(parseSince('24h', now)?.toISOString(), '2026-11-30T12:00:00.000Z');
  assert.equal(parseSince('2026-11-01', now)?.toISOString(), '2026-11-01T00:00:00.000Z');
  assert.equal(parseSince('2026-11-01T08:30:00Z', now)?.toISOString(), '2026-11-01T08:30:00.000Z');
  for (const text of ['yesterday', 'Mon, 30 Nov 2026', '2026-13-45', '12']) assert.equal(parseSince(text, now), undefined, text);
});
