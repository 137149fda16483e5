/**
 * Preloaded into every unit test process (`npm run test:unit`, `node --require`): a unit test
 * runs in its own process alone, so opening a socket, listening on a port or starting a child
 * process fails the file. What needs one of those belongs in test/integration. The failure is
 * thrown where it happens and also sets the exit code, since code under test may catch the
 * error (as a network failure, say) and the test pass regardless.
 */
import childProcess from 'node:child_process';
import net from 'node:net';

function refuse(what: string): never {
  const error = new Error(`a unit test ${what}: move the test to test/integration (test/support/noServers.ts)`);
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
  throw error;
}

net.Socket.prototype.connect = function connect(): never {
  return refuse('opened a socket');
};
net.Server.prototype.listen = function listen(): never {
  return refuse('listened on a port');
};
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  Object.defineProperty(childProcess, name, { value: () => refuse(`started a child process (${name})`) });
}
