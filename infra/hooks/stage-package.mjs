// azd prepackage hook (azure.yaml): builds the production code and stages in dist/deploy exactly what the
// Function App runs, which azd then zips (azure.yaml `dist`) and deploys to Flex Consumption as is
// (remoteBuild: false):
//
//   host.json  package.json  dist/functions/**  dist/src/**  node_modules/** (production dependencies only)
//
// The build is the npm script "build:prod": it writes the compiled function registrations to dist/functions
// and the compiled relay to dist/src (tsconfig.build.json, with the schema's standalone validator
// dist/src/message/messageShape.js) and leaves dist/deploy alone, since azd runs `npm run build` again.
// Tests, the local stack and scripts compile into build/, which is never staged.
// test/package/deployablePackage.test.ts runs this hook and checks what it stages.
//
// Also usable without azd, e.g. for Core Tools: `node infra/hooks/stage-package.mjs && cd dist/deploy &&
// func azure functionapp publish <app>`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stage = join(root, 'dist', 'deploy');
const compiledFolders = ['functions', 'src'];
const rootFiles = ['host.json', 'package.json'];

function fail(message) {
  console.error(`stage-package: ${message}`);
  process.exit(1);
}

function npm(args, cwd) {
  // npm is npm.cmd on Windows, which Node starts only through a shell.
  const result = spawnSync('npm', args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) fail(`could not run npm ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) fail(`npm ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const buildScript = 'build:prod';
if (!manifest.scripts?.[buildScript]) fail(`package.json has no "${buildScript}" script`);
npm(['run', buildScript], root);

for (const folder of compiledFolders) {
  if (!existsSync(join(root, 'dist', folder))) fail(`npm run ${buildScript} wrote no dist/${folder}`);
}
if (!existsSync(join(root, 'dist', 'src', 'message', 'messageShape.js'))) {
  fail(`npm run ${buildScript} wrote no dist/src/message/messageShape.js (the compiled queue-message schema)`);
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'dist'), { recursive: true });
for (const folder of compiledFolders) {
  // Source maps stay behind: Node uses them only with --enable-source-maps, and they double the size.
  cpSync(join(root, 'dist', folder), join(stage, 'dist', folder), {
    recursive: true,
    filter: (source) => !source.endsWith('.map'),
  });
}
for (const file of rootFiles) cpSync(join(root, file), join(stage, file));

// package.json "main" names the function modules the host loads; an empty match would deploy an app without functions.
const functionModules = readdirSync(join(stage, 'dist', 'functions')).filter((name) => name.endsWith('.js'));
if (manifest.main !== 'dist/functions/*.js' || functionModules.length === 0) {
  fail(
    `package.json "main" is ${JSON.stringify(manifest.main)} and dist/functions holds ${functionModules.length} modules; expected "dist/functions/*.js" and at least one`,
  );
}

// Production dependencies exactly as locked; no package's install scripts run (none of them needs one).
cpSync(join(root, 'package-lock.json'), join(stage, 'package-lock.json'));
npm(['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], stage);
rmSync(join(stage, 'package-lock.json'));

console.log(`stage-package: dist/deploy holds ${rootFiles.join(', ')}, dist/functions (${functionModules.join(', ')}), dist/src and production node_modules`);
