/**
 * The string formats message.schema.json names. The schema's validator is
 * compiled at build time (scripts/compileSchema.ts) and loads this module by
 * its relative path, so keep the file name and the export names.
 */
import type { FormatDefinition } from 'ajv';
import { isEmailAddress, parseMailboxText } from './address';
import { isStrictBase64 } from './base64';

export const mailbox: FormatDefinition<string> = { type: 'string', validate: (text: string) => parseMailboxText(text) !== undefined };
export const idnEmail: FormatDefinition<string> = { type: 'string', validate: isEmailAddress };
export const base64: FormatDefinition<string> = { type: 'string', validate: isStrictBase64 };

/** Format name in the schema → definition. */
export const SCHEMA_FORMATS: Record<string, FormatDefinition<string>> = { mailbox, 'idn-email': idnEmail, base64 };
