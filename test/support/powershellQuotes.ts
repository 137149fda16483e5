/**
 * PowerShell's rule for single-quoted (verbatim) strings, written down for the
 * tests because pwsh is not on the test machines: a string opens and closes
 * with any single-quote character — the apostrophe or the typographic quotes
 * ‘ ’ ‚ ‛ (U+2018 to U+201B), which PowerShell's tokenizer treats alike — and a
 * quote character followed by another stands for one (the second: the
 * tokenizer appends the character it consumes). Nothing else is special:
 * no `$` expansion, no backtick escapes (about_Quoting_Rules).
 */

const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201a', '\u201b']);

export const isPsSingleQuote = (char: string | undefined): boolean => char !== undefined && SINGLE_QUOTES.has(char);

/** The value of the single-quoted string starting at `text[start]`, and the index just after its closing quote. */
export function readPsSingleQuoted(text: string, start = 0): { value: string; end: number } {
  if (!isPsSingleQuote(text[start])) throw new Error(`no single-quoted string at ${start}`);
  let value = '';
  for (let index = start + 1; index < text.length; index += 1) {
    const char = text[index]!;
    if (isPsSingleQuote(char)) {
      if (!isPsSingleQuote(text[index + 1])) return { value, end: index + 1 };
      index += 1;
      value += text[index];
    } else {
      value += char;
    }
  }
  throw new Error('unterminated single-quoted string');
}

/** Every single-quoted string of a PowerShell array literal `@('a', 'b')`, which must hold nothing else. */
export function readPsStringArray(text: string): string[] {
  const body = /^@\((.*)\)$/s.exec(text.trim());
  if (!body) throw new Error(`not an array literal: ${text}`);
  const values: string[] = [];
  let rest = body[1]!.trim();
  while (rest.length > 0) {
    const { value, end } = readPsSingleQuoted(rest);
    values.push(value);
    rest = rest.slice(end).trim();
    if (rest.startsWith(',')) rest = rest.slice(1).trim();
    else if (rest.length > 0) throw new Error(`unexpected text in the array: ${rest}`);
  }
  return values;
}
