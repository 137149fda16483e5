// The import boundaries (npm run lint:boundaries): the layers of issue 11 (docs/architecture.md), bottom to top.
// A module may import its own folder and the folders of lower layers, never a higher layer nor another
// folder of its own layer; no cycles anywhere. local/, scripts/ and test/ stand outside the layers:
// they may import the app, the app never imports them, and neither the local stack nor the scripts
// import the tests.
//
// A new folder in src/ goes into this list (the check fails until it does). An entry is a file a process
// starts from (the package command's bin); it sits on the top row, above the folder that holds it.

/** Bottom first. One row per layer; the folders (or entry files) on one row do not import each other. */
const LAYERS = [
  ['src/core'], //         errors, log, redaction, echo, metrics, the diagnosis catalogue, setup steps
  ['src/telemetry'], //    OpenTelemetry log records (fields as attributes), the distro's setup
  ['src/message'], //      the queue-message contract (pure)
  ['src/settings'], //     one spec per setting, the reader, per-section rules
  ['src/transport'], //    TLS trust, network failures, storage clients and conditional writes
  ['src/secrets'], //      client secret sources (setting, Key Vault)
  ['src/token'], //        token sources, cache, claims, token error classification
  ['src/smtp', 'src/graph'], // mail sender, auth, probe, SMTP error classification | the Graph transport
  ['src/throttle'], //     mailbox throttle, concurrency gate, throttled sender
  ['src/delivery'], //     delivery ports, ledger, retry envelopes, dead letters, attachment blobs
  ['src/relay'], //        the queue handler and its one decision point
  ['src/diagnostics', 'src/deadletters', 'src/worker'], // checks and findings | replay | the host's queue semantics
  ['src/monitor'], //      secret monitor, alerts, rotation
  ['src/http', 'src/cli'], // host-free HTTP handlers | the package command's commands
  ['src/app'], //          the composition root
  ['functions', 'src/cli/bin.ts'], // the entries: the Azure Functions registrations | the package command
];

const isFile = (unit) => unit.endsWith('.ts');
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A folder matches every module below it, an entry file itself. */
const pattern = (unit) => (isFile(unit) ? `^${escape(unit)}$` : `^${escape(unit)}/`);
const anyOf = (units) => units.map(pattern).join('|');
const name = (unit) => unit.replace(/^src\//, '').replace(/\.ts$/, '');
const entriesInside = (folder) => LAYERS.flat().filter((unit) => isFile(unit) && unit.startsWith(`${folder}/`));

/** For each folder or entry: everything on its own row (but itself) and above it is out of bounds. */
const layerRules = LAYERS.flatMap((row, rank) =>
  row.map((unit) => {
    const notBelow = LAYERS.slice(rank)
      .flat()
      .filter((other) => other !== unit);
    const inside = entriesInside(unit);
    return {
      name: `${name(unit).replace('/', '-')}-imports-down`,
      comment: `${unit} (layer ${rank + 1} of ${LAYERS.length}) may import only lower layers: not ${notBelow.map(name).join(', ')}`,
      severity: 'error',
      from: inside.length > 0 ? { path: pattern(unit), pathNot: anyOf(inside) } : { path: pattern(unit) },
      to: { path: anyOf(notBelow) },
    };
  }),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle ties modules into one: every layer and folder imports in one direction.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'src-folder-in-a-layer',
      comment: 'Every module of src/ lives in a folder that has a place in LAYERS (.dependency-cruiser.cjs).',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(LAYERS.flat().filter((unit) => !isFile(unit))) },
      to: {},
    },
    {
      name: 'app-never-imports-tooling',
      comment: 'The deployable code (functions/, src/) never imports the tests, the local stack or the scripts.',
      severity: 'error',
      from: { path: '^(functions|src)/' },
      to: { path: '^(test|local|scripts)/' },
    },
    {
      name: 'app-never-imports-dev-dependencies',
      comment: 'The deployable code runs with the production dependencies only (types alone may come from elsewhere).',
      severity: 'error',
      from: { path: '^(functions|src)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'tooling-never-imports-tests',
      comment: 'The local stack and the scripts (benchmark, docs, schema compiler) never import test code.',
      severity: 'error',
      from: { path: '^(local|scripts)/' },
      to: { path: '^test/' },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves; one that does not would pass the rules above unseen.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules is not followed but stays in the graph, so imports of packages are checked too.
    exclude: { path: '^(build|dist)/' },
    // Type-only imports count: a type from a higher layer ties the layers as much as a value does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
