/**
 * Compiles message.schema.json into a standalone validator module at build time
 * (ajv's standalone code), so the function app neither loads ajv's compiler nor
 * compiles the schema when it starts: about 6 MB of memory and part of the cold
 * start. The schema file stays the single source of the contract.
 *
 * `node build/scripts/compileSchema.js build dist` writes src/message/messageShape.js
 * (typed by src/message/messageShape.d.ts) into each compiled tree named, the
 * test build and the deployable one (default: the tree this file was compiled
 * into). The validator loads the formats from ./formats (src/message/formats.ts)
 * beside it, so each tree must hold its compiled src/message/formats.js.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { _ } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import schema from '../src/message/message.schema.json';
import { SCHEMA_FORMATS } from '../src/message/formats';

/** The validator options: every problem reported, and a schema that says only what ajv understands. */
export function schemaCompiler(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    code: { source: true, formats: _`require("./formats").SCHEMA_FORMATS` },
  });
  for (const [name, format] of Object.entries(SCHEMA_FORMATS)) ajv.addFormat(name, format);
  return ajv;
}

export function compileMessageShape(): string {
  const ajv = schemaCompiler();
  return standaloneCode(ajv, ajv.compile(schema));
}

if (require.main === module) {
  const trees = process.argv.length > 2 ? process.argv.slice(2) : [join(__dirname, '..')];
  const code = compileMessageShape();
  for (const tree of trees) {
    const folder = join(tree, 'src', 'message');
    if (!existsSync(join(folder, 'formats.js'))) throw new Error(`${folder} holds no compiled formats.js: compile the TypeScript into ${tree} first`);
    writeFileSync(join(folder, 'messageShape.js'), code);
    console.log(`compiled message.schema.json into ${join(folder, 'messageShape.js')}`);
  }
}
