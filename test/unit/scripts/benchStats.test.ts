import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTarget, formatSpread, formatTarget, median, relayFirst, spread } from '../../../scripts/benchStats';

test('median: the middle value, the mean of the middle two for an even count, NaN for none', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5]), 5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(median([Number.NaN, 7, 9, 8]), 8, 'a run that measured nothing is left out');
});

test('spread: median and range rounded, every run kept in the order measured', () => {
  assert.deepEqual(spread([0.912, 0.804, 0.856], 2), { median: 0.86, min: 0.8, max: 0.91, runs: [0.91, 0.8, 0.86] });
  assert.deepEqual(spread([131.4, 128.6]), { median: 130, min: 129, max: 131, runs: [131, 129] });
});

test('spread of runs that measured nothing is NaN throughout (null in the BENCH line)', () => {
  const figure = spread([Number.NaN]);
  assert.ok(Number.isNaN(figure.median) && Number.isNaN(figure.min) && Number.isNaN(figure.max));
  assert.equal(JSON.stringify(figure), '{"median":null,"min":null,"max":null,"runs":[null]}');
});

test('formatSpread: one run (or runs that agree) prints the value, several print the median and the range', () => {
  assert.equal(formatSpread(spread([0.85], 2)), '0.85');
  assert.equal(formatSpread(spread([2, 2, 2])), '2');
  assert.equal(formatSpread(spread([0.8, 0.91, 0.85], 2)), '0.85 (0.8–0.91)');
});

test('targets are checked on the median, at or above / at or below the bound', () => {
  const ratio = spread([0.95, 0.85, 0.9], 2);
  assert.equal(checkTarget({ figure: 'ratio', measured: ratio, bound: 0.9, direction: 'atLeast' }).met, true);
  assert.equal(checkTarget({ figure: 'ratio', measured: ratio, bound: 0.91, direction: 'atLeast' }).met, false);
  const coldStart = spread([190, 230, 201]);
  assert.equal(checkTarget({ figure: 'cold start', measured: coldStart, bound: 200, direction: 'atMost' }).met, false);
  assert.equal(checkTarget({ figure: 'cold start', measured: coldStart, bound: 201, direction: 'atMost' }).met, true);
  assert.equal(checkTarget({ figure: 'none', measured: spread([Number.NaN]), bound: 1, direction: 'atMost' }).met, false, 'nothing measured is not met');
});

test('formatTarget names the figure, its spread, the bound and the verdict', () => {
  const check = checkTarget({ figure: 'relay CPU ms', measured: spread([3, 4, 5]), bound: 3.5, direction: 'atMost', note: '1.3 × baseline' });
  assert.equal(formatTarget(check), 'relay CPU ms: 4 (3–5) (target ≤ 3.5) NOT MET — 1.3 × baseline');
});

test('relayFirst alternates from one repeat to the next, starting with the relay', () => {
  assert.deepEqual([0, 1, 2, 3].map(relayFirst), [true, false, true, false]);
});
