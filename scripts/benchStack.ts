/**
 * The local stack in a process of its own, for the benchmark: the SMTP server,
 * token endpoint and Azurite then cost the benchmark process nothing, so its
 * CPU time and memory are the relay's (or the baseline's). Prints the stack's
 * settings as one JSON line and runs until stdin closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../local/stack';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const stack = await startLocalStack({ dir, inMemory: true });
  // The SMTP server keeps messages in memory for tests; the benchmark does not need them.
  setInterval(() => stack.smtpServer.received.splice(0), 1000).unref();
  process.stdout.write(JSON.stringify({ settings: stack.settings }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
