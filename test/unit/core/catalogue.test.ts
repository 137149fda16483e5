/**
 * The ground floor's catalogue (src/core/diagnoses.ts, src/core/diagnoses/) is
 * the one place a remedy is written: nothing else in src/ writes one, every id a
 * classifier names is an entry (the CatalogueId type makes a wrong id a compile
 * error), and findings follow the id a failure carries, never its text.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { ContainerClient } from '@azure/storage-blob';
import { RelayError } from '../../../src/core/errors';
import { DIAGNOSES, REMEDIES, advice, isDiagnosisId, remedyOf, remedyText, type CatalogueId } from '../../../src/core/diagnoses';
import { diagnosisOfError } from '../../../src/diagnostics/findings';
import { classifySmtpError } from '../../../src/smtp';
import { classifyTokenFailure, parseTokenErrorBody } from '../../../src/token/classifyTokenError';
import { classifyKeyVaultError } from '../../../src/secrets/classifyKeyVaultError';
import { parsePayload } from '../../../src/message/payload';
import { BLOB_NAME_RULE, containedBlobClient } from '../../../src/message/blobName';
import { remedyLiteralsIn, remedyLiteralsOutsideCatalogue, sourceFiles } from '../../support/remedyScan';
import { PACKAGE_ROOT } from '../../support/paths';

const root = PACKAGE_ROOT;

test('src/core, the ground floor, imports nothing but itself and Node', () => {
  const outside: string[] = [];
  for (const file of sourceFiles(root, 'src/core')) {
    const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      const specifier =
        (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)
          ? statement.moduleSpecifier.text
          : undefined;
      if (specifier === undefined || specifier.startsWith('node:')) continue;
      const target = specifier.startsWith('.') ? posix.join(posix.dirname(file), specifier) : specifier;
      if (!target.startsWith('src/core/') && target !== 'src/core') outside.push(`${file} → ${specifier}`);
    }
  }
  assert.deepEqual(outside, []);
});

describe('the catalogue is the one place a remedy is written', () => {
  test('no file in src/ outside src/core/diagnoses* writes a remedy text', () => {
    const found = remedyLiteralsOutsideCatalogue(root);
    assert.deepEqual(
      found.map((item) => `${item.file}:${item.line} ${item.text}`),
      [],
      'write the text as an entry of src/core/diagnoses/ and use advice(id) or remedyText(id)',
    );
  });

  test('the scan finds a remedy text however it is written, and passes ids and passed-on remedies', () => {
    const flagged = (code: string) => remedyLiteralsIn(code).length;
    assert.equal(flagged(`new RelayError('x', { reason: 'invalid_json', kind: 'permanent', remedy: 'Fix the producer.' });`), 1);
    assert.equal(flagged('const remedy = `Split into ${max} recipients.`;'), 1);
    assert.equal(flagged(`const x = { remedy: status === 403 ? "Grant the role." : undefined };`), 1);
    assert.equal(flagged(`const ACCESS_REMEDY = 'Grant ' + 'the role.'; f(ACCESS_REMEDY);`), 1);
    assert.equal(flagged(`const text = 'Grant the role.'; const alert = { remedy: failure?.remedy ?? (step === 'store' ? text : undefined) };`), 1);
    assert.equal(flagged(`const remedies = { invalid_message: 'Fix it.', sender_not_allowed: 'Omit from.' };`), 2);
    assert.equal(flagged(`const make = (text: string, remedy?: string) => text; make('a', 'Check the vault.');`), 1);
    assert.equal(flagged(`const finding = { finding: 'x', steps: [], fix: 'Run the doctor again.' };`), 1);
    assert.equal(flagged(`const e = { reason: 'x', ...advice('attachment_not_found') }; const f = { remedy: remedyText('secret_renewal') };`), 0);
    assert.equal(
      flagged(`const e = { remedy: failure.remedy, diagnosis: failure.diagnosis }; const g = { fix: error.remedy ?? remedyText('see_provider_reply') };`),
      0,
    );
  });
});

describe('every entry', () => {
  const ids = [...Object.keys(DIAGNOSES), ...Object.keys(REMEDIES)] as CatalogueId[];

  test('has one id, a diagnosis or a remedy, never both', () => {
    assert.equal(new Set(ids).size, ids.length);
    for (const id of Object.keys(REMEDIES)) assert.equal(isDiagnosisId(id), false, id);
  });

  test('gives a remedy of its own: no two entries say the same, so an id stands for one text', () => {
    const params = { maxRecipients: 500, container: 'attachments', rule: BLOB_NAME_RULE, poisonQueue: 'mail-poison' };
    const texts = ids.map((id) => (remedyText as (id: CatalogueId, params: unknown) => string)(id, params));
    for (const [index, text] of texts.entries()) assert.ok(text.length > 10, ids[index]);
    assert.equal(new Set(texts).size, texts.length);
  });

  test('an id outside the catalogue is refused (at compile time, and at run time)', () => {
    // @ts-expect-error -- not an entry: the build fails if advice() ever accepts any string
    assert.throws(() => advice('no_such_entry'));
  });
});

describe('classifiers name the entry by id, with its text', () => {
  const smtp = (command: string, response: string) =>
    classifySmtpError(Object.assign(new Error(response), { code: 'EPROTOCOL', command, response, responseCode: Number(response.slice(0, 3)) }));
  const entra = (status: number, error: string, code: number) =>
    classifyTokenFailure(parseTokenErrorBody(status, JSON.stringify({ error, error_description: `AADSTS${code}: text`, error_codes: [code] })));
  const thrown = (run: () => unknown): RelayError => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof RelayError);
      return error;
    }
    assert.fail('expected a RelayError');
  };
  const container = new ContainerClient('http://127.0.0.1:10000/devstoreaccount1/attachments');

  const table: Array<[string, RelayError, CatalogueId, string]> = [
    [
      '535 5.7.139',
      smtp('AUTH XOAUTH2', '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled'),
      'smtp_auth_disabled',
      remedyOf('smtp_auth_disabled'),
    ],
    ['530 STARTTLS first', smtp('MAIL FROM', '530 5.7.0 Must issue a STARTTLS command first'), 'smtp_tls_failed', remedyOf('smtp_tls_failed')],
    ['5xx to EHLO', smtp('EHLO', '554 5.7.1 go away'), 'smtp_session_refused', remedyOf('smtp_session_refused')],
    [
      'Postfix: not owned, at every RCPT TO',
      smtp('MAIL FROM', '553 5.7.1 <b@example.com>: Sender address rejected: not owned by user a@example.com'),
      'sender_not_owned',
      remedyOf('sender_not_owned'),
    ],
    ['AADSTS7000215', entra(401, 'invalid_client', 7000215), 'invalid_client_secret', remedyOf('invalid_client_secret')],
    ['another OAuth refusal', entra(400, 'unauthorized_client', 123456), 'token_request_rejected', remedyOf('token_request_rejected')],
    [
      'Key Vault 404',
      classifyKeyVaultError({ statusCode: 404, message: 'not found' }, 'Key Vault'),
      'key_vault_secret_not_found',
      remedyText('key_vault_secret_not_found'),
    ],
    [
      'Key Vault 403',
      classifyKeyVaultError({ statusCode: 403, message: 'forbidden' }, 'Key Vault'),
      'key_vault_access_denied',
      remedyText('key_vault_access_denied'),
    ],
    ['a queue message that is not JSON', thrown(() => parsePayload('not json')), 'message_not_json', remedyText('message_not_json')],
    [
      'a blob name outside the container',
      thrown(() => containedBlobClient(container, '../other/x.pdf')),
      'blob_name_refused',
      remedyText('blob_name_refused', { container: 'attachments', rule: BLOB_NAME_RULE }),
    ],
  ];
  for (const [name, error, id, remedy] of table) {
    test(`${name} → ${id}`, () => {
      assert.equal(error.diagnosis, id);
      assert.equal(error.remedy, remedy);
    });
  }
});

describe('findings follow the id, never the text', () => {
  test('a failure carrying a diagnosis text but no id is not recognised by its words', () => {
    const error = new RelayError('odd', { reason: 'internal_error', kind: 'transient', remedy: remedyOf('smtp_auth_disabled') });
    assert.equal(diagnosisOfError(error), undefined);
  });

  test('the id decides, whatever the text', () => {
    const error = new RelayError('odd', { reason: 'internal_error', kind: 'transient', diagnosis: 'smtp_auth_disabled', remedy: 'passed on from elsewhere' });
    assert.equal(diagnosisOfError(error), 'smtp_auth_disabled');
  });

  test('a remedy with no row of its own leaves the diagnosis to the reason code', () => {
    const error = new RelayError('too large', { reason: 'message_too_large', kind: 'permanent', ...advice('attachments_too_large') });
    assert.equal(diagnosisOfError(error), 'message_too_large');
  });
});
