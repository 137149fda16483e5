/**
 * The deployable package, built as `azd up` builds it: infra/hooks/stage-package.mjs (azure.yaml's
 * prepackage hook) runs `npm run build:prod` and stages dist/deploy, the folder azd zips. The hook runs
 * in a copy of the project, so it neither rebuilds this checkout's dist/ under other tests nor leaves a
 * stage behind; the copy shares this checkout's node_modules for the build, and the stage installs its
 * own production dependencies from the lockfile (npm's cache, as after `npm ci`).
 *
 * Also checked: `func azure functionapp publish` from the project root ships the same things, by .funcignore.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, globSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { PACKAGE_ROOT } from '../../support/paths';

const root = PACKAGE_ROOT;
/** Not copied: what builds, installs and local runs make, and git's own. */
const MADE_HERE = new Set(['.git', 'node_modules', 'dist', 'build', '.local', '.tools', '.azure']);

let work: string;
let project: string;
let stage: string;
/** `npm run build` after the hook, as azd does: what it left of the stage (top level). */
let stageAfterRebuild: string[];
/** The project's dist/ after the hook and the second build. */
let projectDist: string[];

interface LockedPackage {
  dev?: boolean;
}
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string; devDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} in ${cwd} failed:\n${result.stdout}\n${result.stderr}`);
}

/** Every file below dir, as a /-separated path relative to it. */
function filesBelow(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((path) => statSync(join(dir, path)).isFile())
    .map((path) => path.split(sep).join('/'))
    .sort();
}

/** The installed packages below a node_modules folder, as lockfile keys (node_modules/a/node_modules/@s/b). */
function installedPackages(base: string, folder = 'node_modules'): string[] {
  const found: string[] = [];
  if (!existsSync(join(base, folder))) return found;
  for (const name of readdirSync(join(base, folder))) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@') ? readdirSync(join(base, folder, name)).map((inner) => `${name}/${inner}`) : [name];
    for (const packageName of names) {
      const key = `${folder}/${packageName}`;
      if (!existsSync(join(base, key, 'package.json'))) continue;
      found.push(key, ...installedPackages(base, `${key}/node_modules`));
    }
  }
  return found.sort();
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'relay-package-'));
  project = join(work, 'project');
  cpSync(root, project, { recursive: true, filter: (source) => source === root || !MADE_HERE.has(relative(root, source).split(sep)[0]!) });
  symlinkSync(realpathSync(join(root, 'node_modules')), join(project, 'node_modules'));

  run(process.execPath, [join(project, 'infra', 'hooks', 'stage-package.mjs')], project);
  // azd builds the project once more around its hooks; that build must leave the stage alone.
  run('npm', ['run', '--silent', 'build'], project);
  stageAfterRebuild = existsSync(join(project, 'dist', 'deploy')) ? readdirSync(join(project, 'dist', 'deploy')).sort() : [];
  projectDist = readdirSync(join(project, 'dist')).sort();

  // Moved out of the copy, so that nothing above it (the copy's node_modules) can stand in for a missing dependency.
  stage = join(realpathSync(work), 'deploy');
  renameSync(join(project, 'dist', 'deploy'), stage);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the stage holds host.json, package.json, dist/functions, dist/src and node_modules, and nothing else', () => {
  assert.deepEqual(readdirSync(stage).sort(), ['dist', 'host.json', 'node_modules', 'package.json']);
  assert.deepEqual(readdirSync(join(stage, 'dist')).sort(), ['functions', 'src']);
  assert.equal(readFileSync(join(stage, 'package.json'), 'utf8'), readFileSync(join(project, 'package.json'), 'utf8'));
  assert.equal(readFileSync(join(stage, 'host.json'), 'utf8'), readFileSync(join(project, 'host.json'), 'utf8'));
});

test('the staged dist holds one compiled module per source of functions/ and src/, the schema and its validator: no TypeScript, no source map, no test, local stack or script', () => {
  const sources = globSync(['functions/**/*.ts', 'src/**/*.ts'], { cwd: project })
    .filter((path) => !path.endsWith('.d.ts'))
    .map((path) => path.split(sep).join('/').replace(/\.ts$/, '.js'));
  const data = globSync('src/**/*.json', { cwd: project }).map((path) => path.split(sep).join('/'));
  const expected = [...sources, ...data, 'src/message/messageShape.js'].sort();
  assert.ok(sources.includes('functions/relayOutboundMail.js') && sources.includes('src/cli/bin.js'), 'the sources were found');
  assert.deepEqual(filesBelow(join(stage, 'dist')), expected);
});

test('the staged node_modules holds exactly the production dependencies the lockfile names, no development dependency', () => {
  const production = Object.entries(lock.packages)
    .filter(([key, locked]) => key.startsWith('node_modules/') && !locked.dev)
    .map(([key]) => key)
    .sort();
  assert.ok(production.includes('node_modules/@azure/functions') && production.includes('node_modules/nodemailer'));
  assert.deepEqual(installedPackages(stage), production);
  // A development dependency that a production package also needs (protobufjs, under the Azure Monitor
  // exporter, depends on @types/node) is a production package in the lockfile, and staged as one.
  for (const name of Object.keys(manifest.devDependencies)) {
    if (production.includes(`node_modules/${name}`)) continue;
    assert.ok(!existsSync(join(stage, 'node_modules', name)), `development dependency ${name} is not staged`);
  }
});

test('the staged app loads every function module package.json "main" names with its own node_modules only', () => {
  const modules = globSync(manifest.main, { cwd: stage });
  assert.deepEqual(modules.map((path) => path.split(sep).join('/')).sort(), [
    'dist/functions/health.js',
    'dist/functions/httpSend.js',
    'dist/functions/messageStatus.js',
    'dist/functions/relayOutboundMail.js',
    'dist/functions/secretMonitor.js',
  ]);
  const script = `for (const file of ${JSON.stringify(modules)}) require(require('node:path').resolve(file));
const outside = Object.keys(require.cache).filter((file) => !file.startsWith(process.cwd()));
if (outside.length > 0) throw new Error('loaded from outside the package: ' + outside.join(', '));`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: stage, encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.equal(result.status, 0, result.stderr);
});

test("`npm run build` (azd runs it after the hook) leaves the stage alone, and the project's dist/ holds only the app and the stage", () => {
  assert.deepEqual(stageAfterRebuild, ['dist', 'host.json', 'node_modules', 'package.json']);
  assert.deepEqual(projectDist, ['deploy', 'functions', 'src']);
});

/** .funcignore's patterns (gitignore syntax, as far as the file uses it) matched against one path below the root. */
function funcIgnored(patterns: string[], path: string, isDirectory: boolean): boolean {
  const name = path.split('/').pop()!;
  return patterns.some((pattern) => {
    const directoryOnly = pattern.endsWith('/');
    const body = directoryOnly ? pattern.slice(0, -1) : pattern;
    if (directoryOnly && !isDirectory) return false;
    const anchored = body.startsWith('/');
    const glob = new RegExp(`^${(anchored ? body.slice(1) : body).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return anchored ? glob.test(path) : glob.test(name);
  });
}

test('.funcignore leaves out every top-level file and folder of the project but host.json, package.json, package-lock.json, dist/functions, dist/src and node_modules', () => {
  const patterns = readFileSync(join(root, '.funcignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  assert.ok(!patterns.some((pattern) => pattern.startsWith('!')), 'no negated pattern (this check does not read them)');
  const shipped = new Set(['host.json', 'package.json', 'package-lock.json', 'dist', 'node_modules']);
  const entries = new Set([...readdirSync(root), ...MADE_HERE, 'local.settings.json']);
  for (const entry of entries) {
    // What a checkout lacks is a folder made by a build, an install or a local run, or local.settings.json.
    const isDirectory = existsSync(join(root, entry)) ? statSync(join(root, entry)).isDirectory() : entry !== 'local.settings.json';
    assert.equal(funcIgnored(patterns, entry, isDirectory), !shipped.has(entry), `${entry} is ${shipped.has(entry) ? 'shipped' : 'left out'}`);
  }
  for (const entry of ['functions', 'src', 'deploy']) {
    assert.equal(funcIgnored(patterns, `dist/${entry}`, true), entry === 'deploy', `dist/${entry}`);
  }
  assert.ok(funcIgnored(patterns, 'dist/src/relay/handler.js.map', false), 'source maps are left out');
  assert.ok(!funcIgnored(patterns, 'dist/src/relay/handler.js', false));
});
