/**
 * Producers validate against the queue-message schema by its identifier, so the
 * identifier and the version it carries are part of the contract.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { schemaCompiler } from '../../../scripts/compileSchema';
import schema from '../../../src/message/message.schema.json';

const SCHEMA_ID = 'https://github.com/oauth2-smtp-relay/oauth2-smtp-relay/schemas/message/v1.json';

describe('queue-message schema identity', () => {
  it('has the stable $id of version 1, and says so in $comment', () => {
    assert.equal(schema.$id, SCHEMA_ID);
    assert.equal(/\/v(\d+)\.json$/.exec(schema.$id)?.[1], '1');
    assert.match(schema.$comment, /version 1\b/);
  });

  it('is accepted by ajv in strict mode and found by its $id', () => {
    const ajv = schemaCompiler();
    ajv.addSchema(schema);
    const validate = ajv.getSchema(SCHEMA_ID);
    assert.ok(validate, 'ajv does not know the schema by its $id');
    assert.equal(validate({ to: 'ada@example.com', text: 'hi' }), true);
    assert.equal(validate({ to: 'ada@example.com' }), false);
  });
});
