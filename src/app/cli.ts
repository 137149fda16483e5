/** The package's commands (src/cli) over what src/app builds from the settings they are given. */
import type { Logger } from '../core/log';
import { runDoctor as runChecks, type DoctorOptions, type DoctorReport } from '../cli/doctor';
import { main as runCommand, type CliIo, type CliServices } from '../cli/main';
import type { RelayIdentityOverrides } from './components';
import { openDoctorTarget } from './diagnostics';
import { poisonReplayDependencies, recordStore, replayDependencies } from './replay';
import { statusLedger } from './messageStatus';
import { openRelayWorker } from './worker';

export const cliServices: CliServices = {
  doctorTarget: (env) => openDoctorTarget(env),
  replayDependencies,
  poisonReplayDependencies,
  recordStore,
  statusLedger,
  openWorker: openRelayWorker,
};

/** Runs one command; resolves with the process exit code (0 ok, 1 a check failed, 2 usage). */
export function main(argv: string[], io: CliIo): Promise<number> {
  return runCommand(argv, io, cliServices);
}

/** The doctor's checks against components built from `options.env`, closed before returning. */
export function runDoctor(options: DoctorOptions & { logger?: Logger; identity?: RelayIdentityOverrides }): Promise<DoctorReport> {
  return runChecks(options, (env) => openDoctorTarget(env, options));
}
