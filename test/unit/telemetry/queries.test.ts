/**
 * Issue 13, point 2: every query an operator is given reads only what the code emits. The KQL blocks
 * of docs/operations.md, the workbook (infra/app/workbook.json) and the alert rules
 * (infra/app/alerts.bicep) name fields (`customDimensions.X`), events ("relay.dead_lettered") and
 * metrics ("relay.messages.delivered"). A name the code does not emit would quietly empty a chart or
 * silence an alert, so each one is checked against the code:
 *  - a field of `traces` must be a property key written somewhere in src/ (a log event's fields);
 *  - a field of `customMetrics` must be one of the metric attributes (METRIC_ATTRIBUTES);
 *  - an event must be a string literal in src/, a metric one of METRIC_NAMES.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_ATTRIBUTES, METRIC_NAMES } from '../../../src/telemetry/metrics';
import { PACKAGE_ROOT } from '../../support/paths';

interface Query {
  where: string;
  text: string;
}

function docQueries(): Query[] {
  const text = readFileSync(join(PACKAGE_ROOT, 'docs/operations.md'), 'utf8');
  return [...text.matchAll(/```kusto\n([\s\S]*?)```/g)].map((match, index) => ({ where: `docs/operations.md block ${index + 1}`, text: match[1]! }));
}

function workbookQueries(): Query[] {
  const workbook = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'infra/app/workbook.json'), 'utf8')) as {
    items: Array<{ name: string; content: { query?: string } }>;
  };
  return workbook.items.filter((item) => item.content.query).map((item) => ({ where: `workbook item ${item.name}`, text: item.content.query! }));
}

function alertQueries(): Query[] {
  const bicep = readFileSync(join(PACKAGE_ROOT, 'infra/app/alerts.bicep'), 'utf8');
  const multiline = [...bicep.matchAll(/var (\w+) = '''([\s\S]*?)'''/g)].map((match) => ({ where: `alerts.bicep ${match[1]}`, text: match[2]! }));
  // Inline additions such as '${monitorAlertQuery}| where alertSeverity …' add no names of their own, but are read all the same.
  const inline = [...bicep.matchAll(/query: '([^']*)'/g)].map((match, index) => ({ where: `alerts.bicep query ${index + 1}`, text: match[1]! }));
  return [...multiline, ...inline];
}

/** Every source file of src/, as text. */
function sources(): string {
  const root = join(PACKAGE_ROOT, 'src');
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(join(root, file), 'utf8'))
    .join('\n');
}

const code = sources();
/** Property keys written in src/: `key: value` and the shorthand `{ key, … }`. */
const keys = new Set(
  [...code.matchAll(/(?<![\w.$'"`])([A-Za-z_]\w*)\s*:(?!:)/g), ...code.matchAll(/[{,]\s*([A-Za-z_]\w*)\s*(?=[,}])/g)].map((match) => match[1]!),
);
/** String literals in src/ (event names among them). */
const literals = new Set([...code.matchAll(/'([a-z]+\.[a-z_.]+)'/g)].map((match) => match[1]!));
const metricNames = new Set<string>(Object.values(METRIC_NAMES));

function fieldsOf(query: string): string[] {
  return [...query.matchAll(/customDimensions(?:\.([A-Za-z_][\w.]*)|\[\s*["']([^"']+)["']\s*\])/g)].map((match) => (match[1] ?? match[2])!);
}

/** Quoted names shaped like an event or a metric: `area.name[.more]`. */
function dottedNamesOf(query: string): string[] {
  return [...query.matchAll(/"([a-z]+\.[a-z_]+(?:\.[a-z_]+)*)"/g)].map((match) => match[1]!);
}

const queries = [...docQueries(), ...workbookQueries(), ...alertQueries()];

test('the queries are found: operations.md, the workbook and the alert rules all have some', () => {
  assert.ok(docQueries().length >= 8, 'operations.md has its KQL blocks');
  assert.ok(workbookQueries().length >= 5, 'the workbook has its queries');
  assert.ok(alertQueries().length >= 2, 'alerts.bicep has its queries');
  assert.ok(
    queries.every((query) => /^\s*(traces|customMetrics)\b/.test(query.text) || query.text.startsWith('${')),
    'each query reads traces or customMetrics',
  );
});

test('every customDimensions field a query names is one the code emits (metric attributes for customMetrics)', () => {
  const unknown: string[] = [];
  for (const query of queries) {
    const metricQuery = /^\s*customMetrics\b/.test(query.text);
    for (const field of fieldsOf(query.text)) {
      const known = metricQuery ? (METRIC_ATTRIBUTES as readonly string[]).includes(field) : keys.has(field.split('.')[0]!);
      if (!known) unknown.push(`${query.where}: ${field}`);
    }
  }
  assert.deepEqual(unknown, []);
});

test('every event and metric a query names is one the code emits', () => {
  const unknown: string[] = [];
  for (const query of queries) {
    for (const name of dottedNamesOf(query.text)) {
      if (!metricNames.has(name) && !literals.has(name)) unknown.push(`${query.where}: ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
});

test('the check catches a name the code does not emit', () => {
  assert.ok(!keys.has('latencyMillis'));
  assert.deepEqual(fieldsOf('traces | where tostring(customDimensions.latencyMillis) > 0 | extend r = customDimensions["reason"]'), [
    'latencyMillis',
    'reason',
  ]);
  assert.ok(!literals.has('relay.deadlettered') && !metricNames.has('relay.messages.deadlettered'));
  assert.deepEqual(dottedNamesOf('customMetrics | where name == "relay.messages.deadlettered"'), ['relay.messages.deadlettered']);
});
