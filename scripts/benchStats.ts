/**
 * The benchmark's arithmetic over repeated runs (BENCH_REPEAT): each figure is
 * reported as the median of its runs with their range, and checked against its
 * target on the median (one noisy run neither meets nor misses a target).
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every run's value, in the order measured. */
  runs: number[];
}

/** The middle value (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median and range of `runs`, each rounded to `digits` decimals (NaN runs, e.g. no messages measured, are left out). */
export function spread(runs: readonly number[], digits = 0): Spread {
  const measured = runs.filter((value) => !Number.isNaN(value));
  const round = (value: number) => (Number.isNaN(value) ? Number.NaN : Math.round(value * 10 ** digits) / 10 ** digits);
  return {
    median: round(median(measured)),
    min: round(measured.length ? Math.min(...measured) : Number.NaN),
    max: round(measured.length ? Math.max(...measured) : Number.NaN),
    runs: runs.map(round),
  };
}

/** "0.85" for one run, "0.85 (0.80–0.91)" for several. */
export function formatSpread(figure: Spread): string {
  if (figure.runs.length <= 1 || figure.min === figure.max) return String(figure.median);
  return `${figure.median} (${figure.min}–${figure.max})`;
}

export interface Target {
  /** What is measured, e.g. "ratio, small text". */
  figure: string;
  measured: Spread;
  /** The bound the median must stay at or above (`atLeast`) or at or below (`atMost`). */
  bound: number;
  direction: 'atLeast' | 'atMost';
  /** How the bound was arrived at, when it is not a plain number from the issue. */
  note?: string;
}

export interface TargetCheck extends Target {
  met: boolean;
}

export function checkTarget(target: Target): TargetCheck {
  const { median: value } = target.measured;
  const met = !Number.isNaN(value) && (target.direction === 'atLeast' ? value >= target.bound : value <= target.bound);
  return { ...target, met };
}

/** One line per target: the figure, its median and range, the bound, met or not met. */
export function formatTarget(check: TargetCheck): string {
  const sign = check.direction === 'atLeast' ? '≥' : '≤';
  const note = check.note ? ` — ${check.note}` : '';
  return `${check.figure}: ${formatSpread(check.measured)} (target ${sign} ${check.bound}) ${check.met ? 'met' : 'NOT MET'}${note}`;
}

/** For repeat `index` (0-based): whether the relay runs before the baseline; alternates so drift cancels out. */
export function relayFirst(index: number): boolean {
  return index % 2 === 0;
}
