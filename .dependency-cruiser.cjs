// The import boundaries (npm run lint:boundaries): the layers of issue 11 (docs/architecture.md), bottom to top.
// A module may import its own folder and the folders of lower layers, never a higher layer nor another
// folder of its own layer; no cycles anywhere. local/, scripts/ and test/ stand outside the layers:
// they may import the app, the app never imports them, and neither the local stack nor the scripts
// import the tests.
//
// A new folder in src/ goes into this list (the check fails until it does).

/** Bottom first. One row per layer; folders on one row are siblings that do not import each other. */
const LAYERS = [
  ['src/core'], //         errors, log, redaction, echo, metrics, the diagnosis catalogue, setup steps
  ['src/message'], //      the queue-message contract (pure)
  ['src/settings'], //     one spec per setting, the reader, per-section rules
  ['src/transport'], //    TLS trust, network failures, storage clients and conditional writes
  ['src/secrets'], //      client secret sources (setting, Key Vault)
  ['src/token'], //        token sources, cache, claims, token error classification
  ['src/smtp'], //         mail sender, auth, probe, SMTP error classification
  ['src/throttle'], //     mailbox throttle, concurrency gate, throttled sender
  ['src/delivery'], //     delivery ports, ledger, retry envelopes, dead letters, attachment blobs
  ['src/relay'], //        the queue handler and its one decision point
  ['src/diagnostics', 'src/deadletters'], // checks and findings | replay
  ['src/monitor'], //      secret monitor, alerts, rotation
  ['src/http', 'src/cli'], // host-free HTTP handlers | the package command
  ['src/app'], //          the composition root
  ['functions'], //        the Azure Functions registrations
];

const escape = (folder) => folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyOf = (folders) => `^(${folders.map(escape).join('|')})/`;
const name = (folder) => folder.replace(/^src\//, '');

/** For each folder: everything at its own layer (but itself) and above it is out of bounds. */
const layerRules = LAYERS.flatMap((row, rank) =>
  row.map((folder) => {
    const notBelow = LAYERS.slice(rank)
      .flat()
      .filter((other) => other !== folder);
    return {
      name: `${name(folder)}-imports-down`,
      comment: `${folder} (layer ${rank + 1} of ${LAYERS.length}) may import only lower layers: not ${notBelow.map(name).join(', ')}`,
      severity: 'error',
      from: { path: `^${escape(folder)}/` },
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
      from: { path: '^src/', pathNot: anyOf(LAYERS.flat()) },
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
