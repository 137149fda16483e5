/**
 * message.schema.json compiled to a validator by `npm run build`
 * (scripts/compileSchema.ts writes dist/src/message/messageShape.js).
 */
import type { ValidateFunction } from 'ajv';

declare const validateShape: ValidateFunction;
export default validateShape;
