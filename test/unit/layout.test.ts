/**
 * The test tree's layout, which the npm scripts rely on: `npm test` runs test/unit,
 * test/integration and test/e2e only, so a test file anywhere else would silently never run;
 * shared test code has one home (test/support, and test/doubles for the doubles); test/unit
 * mirrors the code it tests (src/ without the src/ prefix, or functions/, infra/, local/, scripts/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../support/paths';

const testFiles = globSync('test/**/*.ts', { cwd: PACKAGE_ROOT }).map((file) => file.split('\\').join('/'));

test('every test file is under test/unit, test/integration or test/e2e, where npm test looks', () => {
  const tests = testFiles.filter((file) => file.endsWith('.test.ts'));
  assert.ok(tests.length > 0);
  assert.deepEqual(
    tests.filter((file) => !/^test\/(unit|integration|e2e)\//.test(file)),
    [],
  );
});

test('code the tests share lives in test/support or test/doubles, nowhere else', () => {
  assert.deepEqual(
    testFiles.filter((file) => !file.endsWith('.test.ts') && !/^test\/(support|doubles)\//.test(file)),
    [],
  );
});

test('test/unit mirrors the code it tests: each folder is one of src/ (or functions/, infra/, local/, scripts/)', () => {
  const codeFolders = new Set([
    ...readdirSync(join(PACKAGE_ROOT, 'src'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name),
    'functions',
    'infra',
    'local',
    'scripts',
  ]);
  const unitFolders = readdirSync(join(PACKAGE_ROOT, 'test', 'unit'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  assert.ok(unitFolders.length > 0);
  assert.deepEqual(
    unitFolders.filter((folder) => !codeFolders.has(folder)),
    [],
  );
});
