/**
 * Runs the package command as a user does: the file package.json "bin" names,
 * in a child process, asynchronously (the local servers the command talks to
 * live in the test's process).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The package folder (this file is build/test/cli/command.js). */
export const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');

/** The compiled entry package.json declares for `oauth2-smtp-relay`. */
export function binPath(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return join(PACKAGE_ROOT, pkg.bin['oauth2-smtp-relay']!);
}

export interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The whole environment of the child; default: only PATH (Node 22 first), so nothing leaks in from the test's own. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function runProcess(file: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { env: options.env ?? { PATH: process.env.PATH }, cwd: options.cwd ?? PACKAGE_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** `node <bin> ...args` with this process's Node (22) unless `node` names another. */
export function runCommand(args: string[], options: RunOptions & { node?: string; nodeOptions?: string[] } = {}): Promise<Finished> {
  return runProcess(options.node ?? process.execPath, [...(options.nodeOptions ?? []), binPath(), ...args], options);
}
