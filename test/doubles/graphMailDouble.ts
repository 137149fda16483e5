/**
 * GraphMailDouble, the TEST DOUBLE of Microsoft Graph's mail endpoints, lives beside the other
 * local doubles (local/doubles/graphMailDouble.ts) so the benchmark (scripts/, which never
 * imports test code) can run the Graph transport on it too; the tests import it from here.
 */
export * from '../../local/doubles/graphMailDouble';
