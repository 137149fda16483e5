/** Token claims decoded locally (a token the local Entra-shaped endpoint signs: test/integration/token/claims.test.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkExchangeClaims, decodeTokenClaims, isExchangeAudience } from '../../../src/token/claims';

const TENANT = '7a1c0de0-0000-4000-8000-00000000c1a1';
const CLIENT = '5e4d0000-0000-4000-8000-0000000000c2';

/** An unsigned JWT with these claims (the doctor does not check signatures: only Exchange can). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('decodeTokenClaims', () => {
  test('v2 tokens name the app in azp; aud may be a list', () => {
    const claims = decodeTokenClaims(jwt({ aud: ['https://outlook.office365.com/'], azp: CLIENT, roles: ['SMTP.SendAsApp'], tid: TENANT }))!;
    assert.equal(claims.appid, CLIENT);
    assert.deepEqual(checkExchangeClaims(claims, { tenantId: TENANT, clientId: CLIENT }), []);
  });

  test('what is not a JWT gives no claims (opaque tokens of other providers)', () => {
    for (const token of ['ya29.opaque-token', 'a.b', 'a.%%%.c', `x.${Buffer.from('[1,2]').toString('base64url')}.y`, '']) {
      assert.equal(decodeTokenClaims(token), undefined, token);
    }
  });
});

describe('checkExchangeClaims', () => {
  const good = { aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], tid: TENANT, appid: CLIENT };
  const expected = { tenantId: TENANT, clientId: CLIENT };

  test('Exchange Online under both names, and as its application ID', () => {
    for (const aud of ['https://outlook.office365.com', 'https://outlook.office.com', 'https://outlook.office.com/', '00000002-0000-0ff1-ce00-000000000000']) {
      assert.ok(isExchangeAudience(aud), aud);
    }
    for (const aud of ['https://graph.microsoft.com', 'https://outlook.office365.com.evil.example', 'api://relay', undefined]) {
      assert.ok(!isExchangeAudience(aud), String(aud));
    }
  });

  const table: Array<{ name: string; claims: Record<string, unknown>; diagnoses: string[] }> = [
    { name: 'Graph audience', claims: { ...good, aud: 'https://graph.microsoft.com' }, diagnoses: ['token_audience_not_exchange'] },
    { name: 'no roles claim (consent missing)', claims: { ...good, roles: undefined }, diagnoses: ['token_role_missing'] },
    { name: 'another role only', claims: { ...good, roles: ['Mail.Send'] }, diagnoses: ['token_role_missing'] },
    { name: 'a delegated scp instead of roles', claims: { ...good, roles: undefined, scp: 'SMTP.Send' }, diagnoses: ['token_role_missing'] },
    { name: 'another tenant', claims: { ...good, tid: '11111111-2222-4333-8444-555555555555' }, diagnoses: ['token_wrong_tenant'] },
    { name: 'another app', claims: { ...good, appid: '99999999-8888-4777-8666-555555555555' }, diagnoses: ['token_wrong_app'] },
    {
      name: 'everything wrong, in setup order',
      claims: { aud: 'https://vault.azure.net', tid: TENANT, appid: 'x' },
      diagnoses: ['token_audience_not_exchange', 'token_role_missing', 'token_wrong_app'],
    },
  ];
  for (const row of table) {
    test(row.name, () => {
      const problems = checkExchangeClaims(row.claims, expected);
      assert.deepEqual(
        problems.map((problem) => problem.diagnosis),
        row.diagnoses,
      );
      for (const problem of problems) assert.ok(problem.observed.length > 0);
    });
  }

  test('a delegated scope is called what it is', () => {
    const [problem] = checkExchangeClaims({ ...good, roles: undefined, scp: 'SMTP.Send' }, expected);
    assert.match(problem!.observed, /delegated permission/);
  });

  test('a tenant given as a domain name is not compared with the tid GUID', () => {
    assert.deepEqual(checkExchangeClaims(good, { tenantId: 'contoso.onmicrosoft.com', clientId: CLIENT }), []);
  });
});
