/**
 * The file name an attachment is delivered under: its base name only. RFC 2183 §2.3 asks
 * receivers to ignore directory paths in `filename`, but not every one does (and a name
 * like `..\..\Startup\x.exe` is an attack on those that don't); control and bidirectional
 * formatting characters make a name display as something else (`invoice\u202Efdp.exe`
 * shows as "invoiceexe.pdf"). Both are removed before the name reaches the wire.
 */

/**
 * Path separators: `/` and `\`, and the look-alikes that Windows' best-fit conversion to
 * ANSI code pages turns into them (fullwidth solidus and reverse solidus), or that read as
 * one (division slash, fraction slash, big solidus and reverse solidus).
 */
const SEPARATOR = /[/\\\uFF0F\uFF3C\u2215\u2044\u29F8\u29F9]/;
/**
 * C0 and C1 controls, DEL, the bidirectional marks, embeddings, overrides and isolates
 * (Unicode UAX #9), the line and paragraph separators and the byte-order mark.
 */
const INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029\uFEFF]/g;
/** A drive letter left at the start once the separators are gone (`C:evil.exe`, drive-relative). */
const DRIVE = /^[A-Za-z]:/;

/**
 * The base name of `name` without invisible characters, or undefined when nothing usable
 * is left (empty, `.` or `..`).
 */
export function baseFileName(name: string): string | undefined {
  const visible = name.replace(INVISIBLE, '');
  const segments = visible.split(SEPARATOR);
  const base = segments[segments.length - 1]!.replace(DRIVE, '').trim();
  if (base === '' || base === '.' || base === '..') return undefined;
  return base;
}
