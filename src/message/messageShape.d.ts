/**
 * message.schema.json compiled to a validator by `npm run build`
 * (scripts/compileSchema.ts writes messageShape.js beside the compiled formats.js,
 * in build/src/message for the tests and dist/src/message for the app).
 */
import type { ValidateFunction } from 'ajv';

declare const validateShape: ValidateFunction;
export default validateShape;
