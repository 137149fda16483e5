/** The literals the setup scripts are written with: every value reads back as itself, nothing is code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { odataString, psQuote, shQuote } from '../../../src/cli/setupQuoting';
import { readPsSingleQuoted } from '../../support/powershellQuotes';

const HOSTILE = [
  "o'brien",
  "it's '' ''' quoted",
  '$(touch /tmp/pwned)',
  '`id` and ${HOME} and $env:USERPROFILE',
  "‘left’ ‚low‛ mixed '’‘",
  '’',
  "'",
  '"double" \\ backslash; & | > < * ? ~ #',
  '',
];

test('PowerShell: each of the five single-quote characters is doubled, and the string reads back as the value', () => {
  assert.equal(psQuote("o'brien"), "'o''brien'");
  assert.equal(psQuote('o’brien'), "'o’’brien'");
  assert.equal(psQuote('‘‚‛'), "'‘‘‚‚‛‛'");
  for (const value of HOSTILE) {
    const quoted = psQuote(value);
    assert.deepEqual(readPsSingleQuoted(quoted), { value, end: quoted.length }, quoted);
  }
});

test('PowerShell: a quote doubled only as an apostrophe would end the string early at a typographic quote', () => {
  // What the old quoting produced: PowerShell ends the string at ’ and reads the rest as code.
  const naive = `'${'a’; Remove-Item x; ’'.replace(/'/g, "''")}'`;
  assert.notEqual(readPsSingleQuoted(naive).end, naive.length);
});

test('PowerShell and bash: any text without control characters reads back as itself (property)', () => {
  const text = fc.string({ unit: fc.constantFrom("'", '’', '‘', '‚', '‛', '"', '$', '`', '(', ')', ' ', 'a', '\\', 'é', '😀') });
  fc.assert(
    fc.property(text, (value) => {
      const quoted = psQuote(value);
      assert.deepEqual(readPsSingleQuoted(quoted), { value, end: quoted.length });
      // Inside bash single quotes only the quote itself is special; '\'' is close, escaped quote, reopen.
      assert.equal(
        shQuote(value)
          .slice(1, -1)
          .split(`'\\''`)
          .every((part) => !part.includes("'")),
        true,
      );
    }),
  );
});

test('bash: a quote becomes close-quote, escaped quote, reopen; nothing else changes', () => {
  assert.equal(shQuote("o'brien"), `'o'\\''brien'`);
  assert.equal(shQuote('$(id) `id` ’'), "'$(id) `id` ’'");
});

test('line breaks and control characters are refused by both, never written into a script', () => {
  for (const value of ['a\nb', 'a\rb', 'a\u0000b', 'a\u001bb', 'a\u2028b', 'a\u0085b']) {
    assert.throws(() => shQuote(value), /line break or a control character/);
    assert.throws(() => psQuote(value), /line break or a control character/);
  }
});

test('OData: a quote in a display name filter is doubled', () => {
  assert.equal(odataString("o'brien's relay"), "'o''brien''s relay'");
});
