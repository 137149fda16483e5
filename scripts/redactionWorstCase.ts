/**
 * The redaction worst case, for the benchmark: texts built to make a backtracking pattern
 * try every start and scan the rest of the text from each (a run of `eyJ`, near-misses of
 * each pattern, near-misses of a registered secret), each of the given size, timed through
 * redact() and through the path a hostile queue message takes (parse, every problem
 * listed, the error redacted for the log line and the dead-letter record).
 *
 * `node build/scripts/redactionWorstCase.js [bytes]` prints the line alone (default 1 MiB).
 */
import { performance } from 'node:perf_hooks';
import { parseQueueMessage } from '../src/message/validate';
import { redact, redactKnownSecrets, redactValue, registerSecret } from '../src/core/redact';

export const ADVERSARIAL_BYTES = 2 ** 20;

/** Registered for the measure: a client secret and a token, as a running relay has them. */
export const MEASURE_SECRET = 'Bx7Q~benchmark-secret-value.0123456789ab';
export const MEASURE_TOKEN = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${'eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlLmNvbSJ9'.repeat(20)}.${'c2lnbmF0dXJl'.repeat(28)}`;

/** Hostile texts of `bytes` characters, by name. */
export function adversarialTexts(bytes = ADVERSARIAL_BYTES): Record<string, string> {
  const fill = (unit: string) => unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
  return {
    'eyJ run': fill('eyJ'),
    'JWT without its second dot': fill(`eyJabcd.${'eyJ'.repeat(100)} `),
    'XOAUTH2 near-misses': fill('dXNlcjAAAAAAA!'),
    'XOAUTH2 run': fill('dXNlcj'),
    'Bearer and blanks': fill(`Bearer${' '.repeat(1000)}x `),
    'Bearer run': fill('Bearer '),
    'secret near-misses': fill(MEASURE_SECRET.slice(0, -1)),
    'token near-misses': fill(MEASURE_TOKEN.slice(0, 200)),
  };
}

/** A queue message whose unknown field and header names hold `name`. */
export function hostileMessage(name: string): string {
  const half = name.slice(0, Math.floor(name.length / 2));
  return JSON.stringify({ to: 'someone@example.net', text: 'x', [half]: 1, headers: { [`X-${half}`]: 'v' } });
}

const mail = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };

/** What the relay does with a hostile message: parse it, list its problems, redact them for the log and the record. */
export function parseAndReport(text: string): string {
  try {
    parseQueueMessage(text, mail);
  } catch (error) {
    const json = error instanceof Error && 'toJSON' in error ? (error as { toJSON(): unknown }).toJSON() : {};
    return JSON.stringify(redactValue(json)) + redact(error instanceof Error ? error.message : String(error)) + redactKnownSecrets(text);
  }
  throw new Error('the hostile message was accepted');
}

export interface RedactionWorstCase {
  bytes: number;
  /** The slowest text through redact(), and its time. */
  redact: { text: string; ms: number };
  /** The slowest text as field and header names of a queue message, through the parse+problem path. */
  parseAndProblems: { text: string; ms: number };
}

export function measureRedactionWorstCase(bytes = ADVERSARIAL_BYTES): RedactionWorstCase {
  registerSecret(MEASURE_SECRET);
  registerSecret(MEASURE_TOKEN);
  const worst = { redact: { text: '', ms: -1 }, parseAndProblems: { text: '', ms: -1 } };
  for (const [name, text] of Object.entries(adversarialTexts(bytes))) {
    let started = performance.now();
    redact(text);
    const redactMs = performance.now() - started;
    if (redactMs > worst.redact.ms) worst.redact = { text: name, ms: redactMs };
    const message = hostileMessage(text);
    started = performance.now();
    parseAndReport(message);
    const pathMs = performance.now() - started;
    if (pathMs > worst.parseAndProblems.ms) worst.parseAndProblems = { text: name, ms: pathMs };
  }
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    bytes,
    redact: { ...worst.redact, ms: round(worst.redact.ms) },
    parseAndProblems: { ...worst.parseAndProblems, ms: round(worst.parseAndProblems.ms) },
  };
}

export function formatRedactionWorstCase(result: RedactionWorstCase): string {
  const kib = Math.round(result.bytes / 1024);
  return (
    `redaction worst case (${kib} KiB adversarial text): redact() ${result.redact.ms} ms (${result.redact.text}), ` +
    `parse + problems + redaction ${result.parseAndProblems.ms} ms (${result.parseAndProblems.text})`
  );
}

if (require.main === module) {
  const bytes = Number(process.argv[2] ?? ADVERSARIAL_BYTES);
  console.log(formatRedactionWorstCase(measureRedactionWorstCase(bytes)));
}
