/**
 * What the package command says on a Node.js other than 22, as text (the
 * command run on such a Node is in test/integration/cli/nodeVersion.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIRED_NODE_MAJOR, nodeVersionProblem } from '../../../src/cli/nodeVersion';
import { PACKAGE_ROOT } from '../../support/paths';

test('on Node.js 22 there is nothing to say; on any other, one line with the version and the same command through ./dev', () => {
  assert.equal(nodeVersionProblem('22.0.0', ['doctor']), undefined);
  assert.equal(nodeVersionProblem(process.versions.node, ['doctor']), undefined);
  assert.equal(
    nodeVersionProblem('20.20.2', ['doctor', '--settings', 'my settings.json', '--json'], PACKAGE_ROOT),
    "oauth2-smtp-relay needs Node.js 22, but this is Node.js 20.20.2: run ./dev doctor --settings 'my settings.json' --json " +
      '(it brings Node.js 22), or put Node.js 22 first on PATH.',
  );
  // Newer is not 22 either (package.json engines: >=22 <23), and no command means the doctor.
  assert.match(nodeVersionProblem('24.1.0', [], PACKAGE_ROOT)!, /but this is Node\.js 24\.1\.0: run \.\/dev doctor \(/);
  // From a folder below the package, a relative ./dev path; from elsewhere, its full path.
  assert.match(
    nodeVersionProblem('18.19.0', ['setup'], join(PACKAGE_ROOT, 'src'))!,
    new RegExp(`run ${join(PACKAGE_ROOT, 'dev').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} setup `),
  );
  assert.match(nodeVersionProblem('18.19.0', ['replay', "it's"], tmpdir())!, /dev replay 'it'\\''s' \(/);
});

test('the required major version is the one package.json engines and ./dev name', () => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, `>=${REQUIRED_NODE_MAJOR} <${REQUIRED_NODE_MAJOR + 1}`);
  assert.match(readFileSync(join(PACKAGE_ROOT, 'dev'), 'utf8'), new RegExp(`^NODE_MAJOR=${REQUIRED_NODE_MAJOR}$`, 'm'));
});
