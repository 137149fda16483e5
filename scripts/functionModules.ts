/**
 * The function modules the Functions host loads at start: the files package.json
 * "main" matches (resolved the way test/functions/registration.test.ts checks it).
 *
 * `tree` names the compiled tree: dist/ (the deployable build, the default) or
 * build/ (the whole project). Both hold the same JavaScript, compiled from the
 * same sources with the same options; a process that already runs the relay from
 * build/src loads the registrations from build/ too, so that it holds one copy of
 * the relay, as the host does.
 */
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function functionModules(tree: 'dist' | 'build' = 'dist'): string[] {
  const root = join(__dirname, '..', '..');
  const { main } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
  if (!main.startsWith('dist/')) throw new Error(`package.json "main" is ${main}: expected it below dist/`);
  return globSync(`${tree}/${main.slice('dist/'.length)}`, { cwd: root }).map((file) => join(root, file));
}
