/**
 * Starts a process under a memory limit, as it would run on a Functions instance
 * (Flex Consumption: 2,048 MB by default). Node sizes V8's heap, the young
 * generation included, from the memory it may use (its cgroup limit, else the
 * machine's), so the same code peaks higher on a 24 GB workstation than on a
 * 2 GB instance. Needs a writable cgroup memory controller (v2 or v1, i.e. root
 * on most machines); createMemoryLimit returns undefined when there is none.
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryLimit {
  limitMb: number;
  /** The command line that starts `command` inside the limit. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Removes the cgroup; call after the process has exited. */
  remove(): void;
}

const HIERARCHIES = [
  { root: '/sys/fs/cgroup', limitFile: 'memory.max' }, // cgroup v2
  { root: '/sys/fs/cgroup/memory', limitFile: 'memory.limit_in_bytes' }, // cgroup v1
];

export function createMemoryLimit(limitMb: number, name: string): MemoryLimit | undefined {
  for (const { root, limitFile } of HIERARCHIES) {
    const dir = join(root, name);
    try {
      mkdirSync(dir);
    } catch {
      continue;
    }
    // A real cgroup gets its control files from the kernel; a plain directory (e.g. on tmpfs) does not.
    if (!existsSync(join(dir, limitFile))) {
      rmdirSync(dir);
      continue;
    }
    try {
      writeFileSync(join(dir, limitFile), String(limitMb * 2 ** 20));
    } catch {
      rmdirSync(dir);
      continue;
    }
    return {
      limitMb,
      // The shell joins the cgroup, then becomes the process (exec keeps the IPC descriptor).
      wrap: (command, args) => ({ command: '/bin/sh', args: ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, command, ...args] }),
      remove: () => {
        try {
          rmdirSync(dir);
        } catch {
          // Still in use or already gone: nothing to clean up from here.
        }
      },
    };
  }
  return undefined;
}
