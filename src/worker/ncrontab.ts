/**
 * The next time a six-field NCRONTAB expression (second minute hour day month
 * weekday, UTC: the Functions timer's format) fires, for the plain worker's
 * secret-monitor timer. Each field takes `*`, a number, a range `a-b`, a step
 * (`/n` after `*`, a range or a start), lists of these, and for month and weekday the English
 * three-letter names. Weekday 0 and 7 are Sunday. When both day and weekday are
 * restricted, a day must match both (NCrontab, the timer's parser, does the same).
 */

const FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'weekday', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
] as const;

type Field = (typeof FIELDS)[number];

export interface Schedule {
  seconds: number[];
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
}

/** Parses the expression; throws an Error naming the field that is not understood. */
export function parseNcrontab(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) throw new Error(`"${expression}" has ${parts.length} fields, not six (second minute hour day month weekday)`);
  const [seconds, minutes, hours, days, months, weekdays] = FIELDS.map((field, index) => parseField(parts[index]!, field));
  return {
    seconds: seconds!,
    minutes: minutes!,
    hours: hours!,
    days: new Set(days),
    months: new Set(months),
    weekdays: new Set(weekdays!.map((day) => day % 7)),
  };
}

function parseField(text: string, field: Field): number[] {
  const values = new Set<number>();
  for (const item of text.toLowerCase().split(',')) {
    const [range, stepText, ...extra] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (extra.length > 0 || !Number.isInteger(step) || step < 1) throw fieldError(text, field);
    let low: number;
    let high: number;
    if (range === '*') {
      [low, high] = [field.min, field.max];
    } else {
      const [from, to, ...more] = range!.split('-');
      if (more.length > 0) throw fieldError(text, field);
      low = value(from!, field, text);
      // `a/n` runs from a to the field's end.
      high = to !== undefined ? value(to, field, text) : stepText !== undefined ? field.max : low;
    }
    if (low > high) throw fieldError(text, field);
    for (let current = low; current <= high; current += step) values.add(current);
  }
  return [...values].sort((a, b) => a - b);
}

function value(text: string, field: Field, whole: string): number {
  const named = 'names' in field ? (field.names as readonly string[]).indexOf(text) : -1;
  const number = named >= 0 ? named + (field.name === 'month' ? 1 : 0) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(number >= field.min && number <= field.max)) throw fieldError(whole, field);
  return number;
}

function fieldError(text: string, field: Field): Error {
  return new Error(`the ${field.name} field "${text}" is not understood (${field.min}-${field.max}, *, ranges, steps, lists)`);
}

/** How far ahead to look: a schedule such as "0 0 0 31 2 *" never fires. */
const SEARCH_YEARS = 5;

/** The first time strictly after `after` (UTC, whole seconds) that the schedule fires. */
export function nextOccurrence(expression: string, after: Date): Date {
  const schedule = parseNcrontab(expression);
  const start = Math.floor(after.getTime() / 1000) * 1000 + 1000;
  const first = new Date(start);
  const day = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate()));
  const lastDay = Date.UTC(first.getUTCFullYear() + SEARCH_YEARS, 0, 1);
  for (; day.getTime() < lastDay; day.setUTCDate(day.getUTCDate() + 1)) {
    if (!schedule.months.has(day.getUTCMonth() + 1) || !schedule.days.has(day.getUTCDate()) || !schedule.weekdays.has(day.getUTCDay())) continue;
    for (const hour of schedule.hours) {
      for (const minute of schedule.minutes) {
        for (const second of schedule.seconds) {
          const time = day.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
          if (time >= start) return new Date(time);
        }
      }
    }
  }
  throw new Error(`"${expression}" does not fire within ${SEARCH_YEARS} years`);
}
