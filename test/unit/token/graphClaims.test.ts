/** A Graph token's claims read locally (the graph transport's doctor check): Graph's audience, the tenant and app, Mail.Send and Mail.ReadWrite. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGraphAudience, readGraphToken } from '../../../src/token/claims';

const TENANT = '7a1c0de0-0000-4000-8000-00000000c1a1';
const CLIENT = '5e4d0000-0000-4000-8000-0000000000c2';
const GRAPH = 'https://graph.microsoft.com';
const judgement = { provider: 'microsoft' as const, tenantId: TENANT, clientId: CLIENT };

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

test("Graph's audience is GRAPH_URL (a sovereign cloud's own) or Graph's application ID; Exchange's is not", () => {
  for (const aud of [GRAPH, `${GRAPH}/`, '00000003-0000-0000-c000-000000000000', ['api://x', GRAPH]]) assert.ok(isGraphAudience(aud, GRAPH), String(aud));
  assert.ok(isGraphAudience('https://graph.microsoft.us', 'https://graph.microsoft.us/'));
  for (const aud of ['https://outlook.office365.com', 'https://graph.microsoft.com.evil.example', 'https://graph.microsoft.us', undefined]) {
    assert.ok(!isGraphAudience(aud, GRAPH), String(aud));
  }
});

test('a Graph token with Mail.Send and Mail.ReadWrite: no problem, drafts possible', () => {
  const reading = readGraphToken(jwt({ aud: GRAPH, roles: ['Mail.Send', 'Mail.ReadWrite'], tid: TENANT, appid: CLIENT }), judgement, GRAPH)!;
  assert.deepEqual(reading.problems, []);
  assert.equal(reading.roleMissing, undefined);
  assert.equal(reading.canReadWrite, true);
  assert.match(reading.seen, /aud "https:\/\/graph\.microsoft\.com", roles \["Mail\.Send","Mail\.ReadWrite"\]/);
});

test('an Exchange token where a Graph one belongs: wrong audience, and no Mail.Send', () => {
  const reading = readGraphToken(jwt({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], tid: TENANT, appid: CLIENT }), judgement, GRAPH)!;
  assert.deepEqual(
    reading.problems.map((problem) => problem.diagnosis),
    ['graph_token_audience'],
  );
  assert.match(reading.problems[0]!.observed, /aud is "https:\/\/outlook\.office365\.com", Graph is https:\/\/graph\.microsoft\.com/);
  assert.equal(reading.roleMissing?.diagnosis, 'graph_role_missing');
  assert.equal(reading.noRoles, false);
});

test('no role at all (RBAC for Applications): Mail.Send missing is flagged apart from the problems, and the token says it has no role', () => {
  const reading = readGraphToken(jwt({ aud: GRAPH, tid: TENANT, appid: CLIENT }), judgement, GRAPH)!;
  assert.deepEqual(reading.problems, []);
  assert.match(reading.roleMissing!.observed, /roles is \[\]/);
  assert.equal(reading.noRoles, true);
  assert.equal(reading.canReadWrite, false);
});

test('another tenant or app is a problem; a delegated scp is named; other providers and opaque tokens are not judged', () => {
  const reading = readGraphToken(
    jwt({ aud: GRAPH, scp: 'Mail.Send', tid: '11111111-2222-4333-8444-555555555555', appid: 'aaaaaaaa-0000-4000-8000-00000000000a' }),
    judgement,
    GRAPH,
  )!;
  assert.deepEqual(
    reading.problems.map((problem) => problem.diagnosis),
    ['token_wrong_tenant', 'token_wrong_app'],
  );
  assert.match(reading.roleMissing!.observed, /scp is "Mail\.Send" \(a delegated permission/);
  assert.equal(readGraphToken('opaque', judgement, GRAPH), undefined);
  assert.equal(readGraphToken(jwt({ aud: GRAPH }), { ...judgement, provider: 'generic' }, GRAPH), undefined);
});
