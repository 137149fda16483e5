import assert from 'node:assert/strict';
import { RelayError } from '../../src/core/errors';

/** The RelayError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<RelayError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected a RelayError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}
