/**
 * The command's Node.js check. The relay and the Azure SDK packages need
 * Node 22 (package.json "engines", the Azure Functions runtime): on another
 * Node they fail later with errors that point elsewhere (Node 20:
 * "tls.getCACertificates is not a function" under the settings check). This
 * module is loaded before anything else, so it imports only Node built-ins and
 * keeps to syntax old Node versions parse.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

export const REQUIRED_NODE_MAJOR = 22;

/** The package folder (this file is dist/src/cli/nodeVersion.js). */
const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');

/**
 * Undefined on Node 22; otherwise one line saying so and how to run the same
 * command with Node 22: through ./dev (it brings Node 22), or with Node 22 first on PATH.
 */
export function nodeVersionProblem(version: string, args: string[], cwd: string = process.cwd()): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major === REQUIRED_NODE_MAJOR) return undefined;
  const dev = join(PACKAGE_ROOT, 'dev');
  const command = [devPath(dev, cwd)]
    .concat(args.length > 0 ? args : ['doctor'])
    .map(shellWord)
    .join(' ');
  const onPath = `put Node.js ${REQUIRED_NODE_MAJOR} first on PATH`;
  const how = existsSync(dev) ? `run ${command} (it brings Node.js ${REQUIRED_NODE_MAJOR}), or ${onPath}` : onPath;
  return `oauth2-smtp-relay needs Node.js ${REQUIRED_NODE_MAJOR}, but this is Node.js ${version}: ${how}.`;
}

/** ./dev from the package folder, a relative path below it, the full path elsewhere. */
function devPath(dev: string, cwd: string): string {
  const path = relative(cwd, dev);
  return path.startsWith('..') || isAbsolute(path) ? dev : `./${path}`;
}

/** Quoted for a POSIX shell when it holds anything but plain characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
