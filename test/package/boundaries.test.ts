/**
 * The import-boundary check (`npm run lint:boundaries`, .dependency-cruiser.cjs) run on a small project
 * laid out like this one: it must report every upward, sideways and circular import, production code
 * reaching into tests, the local stack, scripts or dev dependencies, and a src/ folder with no layer,
 * and nothing for imports that point down. (On the project itself it runs in CI, through `npm run lint`.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..', '..');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** The fixture's modules: path → source. Down-pointing imports are mixed in with the forbidden ones. */
const FILES: Record<string, string> = {
  'src/core/log.ts': `import { root } from '../app/root';\nexport const log = root;\n`,
  'src/core/errors.ts': `export class RelayError extends Error {}\n`,
  'src/message/validate.ts': `import type { Settings } from '../settings/spec';\nimport { RelayError } from '../core/errors';\nexport type V = Settings | RelayError;\n`,
  'src/settings/spec.ts': `import { RelayError } from '../core/errors';\nexport interface Settings { error: RelayError }\n`,
  'src/token/cache.ts': `import { source } from './source';\nexport const cache = source;\n`,
  'src/token/source.ts': `import { cache } from './cache';\nexport const source = () => cache;\n`,
  'src/smtp/server.ts': `import { SMTPServer } from 'smtp-server';\nexport const server = SMTPServer;\n`,
  'src/relay/handler.ts': `import { double } from '../../test/doubles/double';\nimport { RelayError } from '../core/errors';\nexport const handler = [double, RelayError];\n`,
  'src/http/health.ts': `import { command } from '../cli/command';\nexport const health = command;\n`,
  'src/cli/command.ts': `import { handler } from '../relay/handler';\nexport const command = handler;\n`,
  'src/gadgets/gadget.ts': `import { RelayError } from '../core/errors';\nexport const gadget = RelayError;\n`,
  'src/cli/bin.ts': `export const start = () => import('../app/root.js');\n`,
  'src/app/cliServices.ts': `import { start } from '../cli/bin';\nexport const services = start;\n`,
  'src/app/root.ts': `import { handler } from '../relay/handler';\nimport { health } from '../http/health';\nexport const root = [handler, health];\n`,
  'functions/relay.ts': `import { root } from '../src/app/root';\nexport const relay = root;\n`,
  'local/stack.ts': `import { root } from '../src/app/root';\nexport const stack = root;\n`,
  'scripts/bench.ts': `import { double } from '../test/doubles/double';\nimport { stack } from '../local/stack';\nexport const bench = [double, stack];\n`,
  'test/doubles/double.ts': `export const double = 1;\n`,
  'test/relay.test.ts': `import { root } from '../src/app/root';\nimport { stack } from '../local/stack';\nexport const t = [root, stack];\n`,
};

let project: string;
let violations: string[];

before(() => {
  project = mkdtempSync(join(tmpdir(), 'relay-boundaries-'));
  for (const [path, source] of Object.entries(FILES)) {
    mkdirSync(dirname(join(project, path)), { recursive: true });
    writeFileSync(join(project, path), source);
  }
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'node16', strict: true }, include: ['**/*.ts'] }));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fixture', dependencies: { nodemailer: '*' }, devDependencies: { 'smtp-server': '*' } }));
  symlinkSync(realpathSync(join(root, 'node_modules')), join(project, 'node_modules'));

  const report = JSON.parse(depcruise('json').stdout) as { summary: { violations: Violation[] } };
  // A package is named by its folder (node_modules resolves through the fixture's link to this project's).
  const named = (path: string) => path.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, 'node_modules/$1');
  violations = report.summary.violations.map((violation) => `${violation.rule.name}: ${violation.from} → ${named(violation.to)}`).sort();
});

/** `npm run lint:boundaries`, run in the fixture with this project's configuration. */
function depcruise(outputType: 'json' | 'err') {
  const cli = realpathSync(join(root, 'node_modules', '.bin', 'depcruise'));
  const args = [cli, '--config', join(root, '.dependency-cruiser.cjs'), '--output-type', outputType, 'functions', 'src', 'local', 'scripts', 'test'];
  return spawnSync(process.execPath, args, { cwd: project, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
}

test('the check exits non-zero when it finds a violation (so npm run lint, and CI, fail)', () => {
  const result = depcruise('err');
  assert.notEqual(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /core-imports-down: src\/core\/log\.ts → src\/app\/root\.ts/);
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

test('an import of a higher layer fails the check, a type-only one too', () => {
  assert.ok(violations.includes('core-imports-down: src/core/log.ts → src/app/root.ts'), violations.join('\n'));
  assert.ok(violations.includes('message-imports-down: src/message/validate.ts → src/settings/spec.ts'), violations.join('\n'));
});

test('an import of a sibling folder on the same layer fails the check', () => {
  assert.ok(violations.includes('http-imports-down: src/http/health.ts → src/cli/command.ts'), violations.join('\n'));
});

test("the package command's entry (src/cli/bin.ts) may import the composition root above its folder; nothing imports an entry", () => {
  assert.ok(!violations.some((violation) => violation.includes('src/cli/bin.ts →')), violations.join('\n'));
  assert.ok(violations.includes('app-imports-down: src/app/cliServices.ts → src/cli/bin.ts'), violations.join('\n'));
});

test('a cycle fails the check, also inside one folder', () => {
  assert.ok(
    violations.some((violation) => /^no-circular: src\/token\/(cache|source)\.ts → src\/token\/(cache|source)\.ts$/.test(violation)),
    violations.join('\n'),
  );
});

test('the deployable code importing a test, or a dev dependency, and the scripts importing a test fail the check', () => {
  assert.ok(violations.includes('app-never-imports-tooling: src/relay/handler.ts → test/doubles/double.ts'), violations.join('\n'));
  assert.ok(violations.includes('app-never-imports-dev-dependencies: src/smtp/server.ts → node_modules/smtp-server'), violations.join('\n'));
  assert.ok(violations.includes('tooling-never-imports-tests: scripts/bench.ts → test/doubles/double.ts'), violations.join('\n'));
});

test('a src/ folder missing from the layer list fails the check', () => {
  assert.ok(violations.includes('src-folder-in-a-layer: src/gadgets/gadget.ts → src/core/errors.ts'), violations.join('\n'));
});

test('imports that point down pass: nothing else is reported', () => {
  const cycle = violations.filter((violation) => violation.startsWith('no-circular: '));
  assert.equal(cycle.length, 1, violations.join('\n'));
  assert.deepEqual(
    violations.filter((violation) => !cycle.includes(violation)),
    [
      'app-imports-down: src/app/cliServices.ts → src/cli/bin.ts',
      'app-never-imports-dev-dependencies: src/smtp/server.ts → node_modules/smtp-server',
      'app-never-imports-tooling: src/relay/handler.ts → test/doubles/double.ts',
      'core-imports-down: src/core/log.ts → src/app/root.ts',
      'http-imports-down: src/http/health.ts → src/cli/command.ts',
      'message-imports-down: src/message/validate.ts → src/settings/spec.ts',
      'src-folder-in-a-layer: src/gadgets/gadget.ts → src/core/errors.ts',
      'tooling-never-imports-tests: scripts/bench.ts → test/doubles/double.ts',
    ],
  );
});
