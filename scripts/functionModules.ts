/**
 * The function modules the Functions host loads at start: the files package.json
 * "main" matches (resolved the way test/unit/functions/registration.test.ts checks it).
 */
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function functionModules(): string[] {
  const root = join(__dirname, '..', '..');
  const { main } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
  return globSync(main, { cwd: root }).map((file) => join(root, file));
}
