/**
 * Preloaded with `node --require` by the Node version tests. With
 * FAKE_NODE_VERSION set, the process reports that version in
 * process.versions.node; with LOADED_MODULES_FILE set, it writes there, at
 * exit, the files of every module it loaded, so a test can tell what the
 * command's entry loaded before it decided.
 */
import { writeFileSync } from 'node:fs';

const fake = process.env.FAKE_NODE_VERSION;
if (fake) Object.defineProperty(process, 'versions', { value: { ...process.versions, node: fake } });

const record = process.env.LOADED_MODULES_FILE;
if (record) process.on('exit', () => writeFileSync(record, JSON.stringify(Object.keys(require.cache))));
