/**
 * The package command on a Node.js other than 22 (what `npx oauth2-smtp-relay`
 * runs with on a machine whose default Node is older): one line that says so
 * and how to run the same command with Node 22, decided before any module of
 * the relay is loaded, instead of a settings check failing on a Node 22 API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REQUIRED_NODE_MAJOR, nodeVersionProblem } from '../../../src/cli/nodeVersion';
import { PACKAGE_ROOT, binPath, runCommand } from '../../support/command';

const PRELOAD = require.resolve('../../support/oldNodePreload');

/** A Node.js on this machine whose major version is not 22 (the system's Node 20 on ours), if there is one. */
function otherNode(): { node: string; version: string } | undefined {
  const candidates = ['/usr/bin/node', '/usr/local/bin/node', '/bin/node', ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'node'))];
  for (const node of new Set(candidates)) {
    try {
      accessSync(node, constants.X_OK);
      const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
      if (Number(version.split('.')[0]) !== REQUIRED_NODE_MAJOR) return { node, version };
    } catch {
      // not there, or not runnable
    }
  }
  return undefined;
}

// With no other Node on the machine, Node 22 reporting an older version stands in for it (the check reads process.versions.node).
const other = otherNode();
const oldNode = other
  ? { title: `the machine's Node.js ${other.version}`, node: other.node, nodeOptions: [] as string[], env: {}, version: other.version }
  : {
      title: 'Node.js 22 reporting 20.20.0',
      node: process.execPath,
      nodeOptions: ['--require', PRELOAD],
      env: { FAKE_NODE_VERSION: '20.20.0' },
      version: '20.20.0',
    };

test(`\`npx oauth2-smtp-relay doctor\` on ${oldNode.title}: that one line on stderr, exit 1, no settings check`, async () => {
  const args = ['doctor', '--settings', 'local.settings.json'];
  const result = await runCommand(args, { node: oldNode.node, nodeOptions: oldNode.nodeOptions, env: { PATH: process.env.PATH, ...oldNode.env } });
  assert.equal(result.stdout, '', 'no report: the checks did not run');
  assert.equal(result.stderr, `${nodeVersionProblem(oldNode.version, args, PACKAGE_ROOT)}\n`);
  assert.equal(result.status, 1);
});

test('the entry decides before it loads any module of the relay, and loads the commands on Node.js 22', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-node-check-'));
  try {
    const loadedBy = async (env: Record<string, string>) => {
      const file = join(dir, `loaded-${Object.keys(env).length}.json`);
      const result = await runCommand(['setup'], { nodeOptions: ['--require', PRELOAD], env: { PATH: process.env.PATH, LOADED_MODULES_FILE: file, ...env } });
      assert.ok(existsSync(file), result.stderr);
      const files = (JSON.parse(readFileSync(file, 'utf8')) as string[]).filter((path) => path !== PRELOAD);
      return { result, files };
    };
    const old = await loadedBy({ FAKE_NODE_VERSION: '20.20.0' });
    assert.match(old.result.stderr, /needs Node\.js 22, but this is Node\.js 20\.20\.0/);
    assert.deepEqual(old.files.sort(), [binPath(), join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'nodeVersion.js')].sort());

    // The same recording on Node 22 sees the commands and what they import: the list above is not empty by accident.
    const current = await loadedBy({});
    assert.equal(current.result.status, 2, 'setup without its options is a usage error');
    assert.match(current.result.stderr, /missing --tenant-id/);
    assert.ok(current.files.includes(join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js')), current.files.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
