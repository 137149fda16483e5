// @ts-check
// ESLint: the recommended JavaScript rules and typescript-eslint's type-aware recommended set
// (recommendedTypeChecked: it reads the types through tsconfig.json, which covers every TypeScript file).
// Formatting is Prettier's job (prettier.config.mjs); import direction is dependency-cruiser's
// (.dependency-cruiser.cjs). The rules turned off or tuned below say why.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['build/', 'dist/', 'node_modules/', '.tools/', '.local/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test(), describe() and hooks return promises the runner itself awaits; every other
      // promise must still be awaited or handled.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      // tsc reports unused locals and parameters already (noUnusedLocals, noUnusedParameters), and the code
      // drops a field on purpose by destructuring it into a _name beside a rest (`{ secret: _secret, ...rest }`).
      '@typescript-eslint/no-unused-vars': 'off',
      // Ports are async by contract (MessageSender, DeadLetterSink, the doubles behind them): an async body
      // without await still turns a throw into a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
      // Finding control characters (NUL, CR, LF) in producer input is what the message checks are for.
      'no-control-regex': 'off',
      // A server built before the object that handles its requests (the local stack's servers, the doubles,
      // the storage tap): the handler closure reads `let instance`, assigned once when the server exists, so
      // it cannot be a const declared first. Every other single assignment must still be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // One composition root (issue 11): only src/app builds the clients and ledgers and wraps loggers in
    // redaction; the factories that hold the constructors are the only other place they appear.
    files: ['functions/**/*.ts', 'src/**/*.ts'],
    ignores: ['src/app/**', 'src/secrets/vaultClient.ts', 'src/transport/storage.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.name=/^(redactingLogger|createSecretClient|createStorageClients)$/]',
          message: 'Only the composition root (src/app) builds clients and redacting loggers: take what you need as a parameter.',
        },
        {
          selector: 'NewExpression[callee.name=/^(SecretClient|BlobDeliveryLedger|QueueServiceClient|BlobServiceClient)$/]',
          message: 'Only the composition root (src/app) and the client factories construct clients and ledgers: take one as a parameter.',
        },
      ],
    },
  },
  {
    // Tests read answers as untyped JSON (HTTP bodies, dead-letter records, log lines, the host's metadata)
    // and assert on their fields: the assertion is the type check, so the no-unsafe-* rules only add casts.
    // The product code (src/, functions/, local/, scripts/) keeps them.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The configuration files and the azd hook are plain Node.js modules outside tsconfig.json.
    files: ['**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', module: 'writable', require: 'readonly' } },
  },
);
