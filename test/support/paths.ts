/**
 * Where the tests find the package and the compiled files they run as a user
 * would (the command, the local run, a relay process): the one place that
 * knows the build layout, so a test can move between test/unit,
 * test/integration and test/e2e without counting `..`.
 */
import { resolve } from 'node:path';

/** The build's output folder (this file is <build>/test/support/paths.js): compiled src/, functions/, local/, test/ sit in it. */
export const BUILD_ROOT = resolve(__dirname, '..', '..');

/** The package folder (package.json, host.json, README.md, the sources). */
export const PACKAGE_ROOT = resolve(BUILD_ROOT, '..');
