/**
 * Strict base64 (RFC 4648 §4): the standard alphabet, length a multiple of 4,
 * padding only at the end, no line breaks or spaces. The empty text is valid (zero bytes). Checked with a linear scan
 * rather than a regular expression, because attachments can be tens of MB.
 */
export function isStrictBase64(text: string): boolean {
  const length = text.length;
  if (length % 4 !== 0) return false;
  let padding = 0;
  if (text.charCodeAt(length - 1) === 61 /* = */) padding = text.charCodeAt(length - 2) === 61 ? 2 : 1;
  for (let index = 0; index < length - padding; index += 1) {
    const code = text.charCodeAt(index);
    const isAlphabet = (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 43 || code === 47;
    if (!isAlphabet) return false;
  }
  return true;
}

/** Decodes strict base64, or returns undefined when the text is not strict base64. */
export function decodeStrictBase64(text: string): Buffer | undefined {
  return isStrictBase64(text) ? Buffer.from(text, 'base64') : undefined;
}
