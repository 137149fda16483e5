#!/usr/bin/env node
/**
 * The package's command (package.json "bin"). It checks the Node.js version
 * before loading the relay: see nodeVersion.ts. The commands are in main.ts; this
 * entry, like functions/, runs them over the composition root (src/app/cli.ts).
 */
import { createInterface } from 'node:readline/promises';
import { nodeVersionProblem } from './nodeVersion';

/** One answer from the terminal (the question goes to stderr: stdout may be --json). */
async function askOnTerminal(question: string): Promise<string> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await terminal.question(question);
  } finally {
    terminal.close();
  }
}

const args = process.argv.slice(2);
const problem = nodeVersionProblem(process.versions.node, args);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
} else {
  import('../app/cli.js')
    .then(({ main }) =>
      main(args, {
        env: process.env,
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        stdinIsTTY: process.stdin.isTTY === true,
        ask: askOnTerminal,
      }),
    )
    .then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      },
    );
}
