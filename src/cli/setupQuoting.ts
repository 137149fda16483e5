/**
 * How the setup scripts put a value into a shell's source: one literal per
 * shell, so no value is ever read as code. Values are validated before they get
 * here; these still refuse control characters (a newline would end a statement)
 * rather than trust every caller.
 */

/** Line breaks, NUL and the other C0/C1 controls: never inside a generated literal. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function refuseControls(value: string): void {
  if (CONTROL.test(value)) throw new Error('a value for a setup script contains a line break or a control character');
}

/**
 * A bash single-quoted word: nothing inside single quotes is special, and a
 * quote is written as `'\''` (close, an escaped quote, reopen).
 */
export function shQuote(value: string): string {
  refuseControls(value);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * PowerShell's single-quote characters: the apostrophe and the typographic
 * quotes ‘ ’ ‚ ‛ (U+2018 to U+201B), which its tokenizer treats alike.
 */
export const PS_SINGLE_QUOTES = /['\u2018\u2019\u201a\u201b]/g;

/**
 * A PowerShell verbatim (single-quoted) string: no `$` or backtick expansion; a
 * quote character is written twice, which the tokenizer reads as that character.
 */
export function psQuote(value: string): string {
  refuseControls(value);
  return `'${value.replace(PS_SINGLE_QUOTES, (quote) => quote + quote)}'`;
}

/** An OData string literal's body (Microsoft Graph `$filter`): a quote is doubled. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
