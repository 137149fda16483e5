/** The package command's usage and its declaration in package.json (the command against a local setup: test/integration/cli/doctor.test.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { main } from '../../../src/app/cli';
import { BUILD_ROOT, PACKAGE_ROOT } from '../../support/paths';

describe('the package command', () => {
  const cli = join(BUILD_ROOT, 'src', 'cli', 'bin.js');

  test('a wrong option is a usage error (exit 2), not a crash', async () => {
    let err = '';
    const code = await main(['doctor', '--sendto', 'x'], { env: {}, out: () => {}, err: (text) => (err += text) });
    assert.equal(code, 2);
    assert.match(err, /usage:/);
  });

  test('the package declares the command, and the compiled file starts with a shebang', async () => {
    const pkg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')));
    assert.equal(pkg.bin['oauth2-smtp-relay'], 'dist/src/cli/bin.js');
    const compiled = await import('node:fs').then((fs) => fs.readFileSync(cli, 'utf8'));
    assert.ok(compiled.startsWith('#!/usr/bin/env node\n'));
  });
});
