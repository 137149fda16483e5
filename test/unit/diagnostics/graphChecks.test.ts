import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { graphClaimsCheck, type GraphDiagnosticTarget } from '../../../src/diagnostics/graphChecks';
import type { TokenJudgement } from '../../../src/token/claims';

const TENANT = '7a1c0de0-0000-4000-8000-00000000cafe';
const CLIENT = '5e4d0000-0000-4000-8000-0000000000a1';
const JUDGEMENT: TokenJudgement = { provider: 'microsoft', tenantId: TENANT, clientId: CLIENT, scopes: ['https://graph.microsoft.com/.default'] };

/** A JWT-shaped token with these roles (the check reads claims locally; the signature is not its concern). */
function tokenWith(roles: string[] | undefined) {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { aud: 'https://graph.microsoft.com', tid: TENANT, appid: CLIENT, ...(roles ? { roles } : {}) };
  return { token: `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`, expiresOnTimestamp: Date.now() + 3_600_000 };
}

function target(permissionGrant: GraphDiagnosticTarget['permissionGrant']): GraphDiagnosticTarget {
  const unused = () => Promise.reject(new Error('not used by the claims check'));
  return {
    transport: 'graph',
    url: 'https://graph.microsoft.com',
    permissionGrant,
    mailbox: 'relay@contoso.com',
    token: unused,
    readDrafts: unused,
    send: unused,
  };
}

const verdict = (grant: GraphDiagnosticTarget['permissionGrant'], roles: string[] | undefined) => {
  const outcome = graphClaimsCheck(target(grant), tokenWith(roles), JUDGEMENT);
  return { status: outcome.status, finding: outcome.finding?.diagnosis };
};

describe("the Graph token's roles, judged by GRAPH_PERMISSION_GRANT", () => {
  it('rbac: a token without roles is right; a Mail.Send role means an Entra consent that opens every mailbox', () => {
    assert.deepEqual(verdict('rbac', undefined), { status: 'ok', finding: undefined });
    assert.deepEqual(verdict('rbac', ['Mail.Send']), { status: 'failed', finding: 'graph_consent_voids_rbac' });
  });

  it('entra: Mail.Send must be in the token', () => {
    assert.deepEqual(verdict('entra', ['Mail.Send', 'Mail.ReadWrite']), { status: 'ok', finding: undefined });
    assert.deepEqual(verdict('entra', undefined), { status: 'failed', finding: 'graph_role_missing' });
  });

  it('auto: either grant; a token without the role is only a warning', () => {
    assert.deepEqual(verdict('auto', ['Mail.Send']), { status: 'ok', finding: undefined });
    assert.deepEqual(verdict('auto', undefined), { status: 'warning', finding: 'graph_role_missing' });
  });
});
