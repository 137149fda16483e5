/**
 * Reads an access token's claims locally (no signature check: only Exchange can
 * judge that) to tell which setup step a refused token points at. The token
 * itself never leaves this module: callers get the claims that matter and a
 * verdict, nothing they could print by mistake.
 */
import type { OAuthSettings } from '../settings';
import type { DiagnosisId } from '../core/diagnoses';

/** Both spellings name Exchange Online: Microsoft's docs use one, the setup guide the other. */
export const EXCHANGE_AUDIENCES = ['https://outlook.office365.com', 'https://outlook.office.com'] as const;
/** The application ID of Office 365 Exchange Online, which v1 tokens may carry as aud. */
const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const SMTP_ROLE = 'SMTP.SendAsApp';

/** The claims the diagnosis looks at; none of them is secret. */
export interface TokenClaims {
  aud?: string | string[];
  roles?: string[];
  scp?: string;
  tid?: string;
  appid?: string;
  iss?: string;
  /** Expiry, ISO 8601. */
  expiresOn?: string;
}

export interface ClaimExpectations {
  tenantId?: string;
  clientId: string;
  /** OAUTH2_SCOPES: decides what a wrong audience means (a scope to set, or an endpoint that ignores it). */
  scopes?: string[];
}

export interface ClaimProblem {
  diagnosis: DiagnosisId;
  /** What was seen, e.g. `aud is "https://graph.microsoft.com"`. */
  observed: string;
}

/** The claims of a JWT, or undefined when the token is not a JWT (opaque tokens of other providers). */
export function decodeTokenClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const record = payload as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const claims: TokenClaims = {};
  if (typeof record.aud === 'string') claims.aud = record.aud;
  else if (Array.isArray(record.aud)) claims.aud = record.aud.filter((item): item is string => typeof item === 'string');
  if (Array.isArray(record.roles)) claims.roles = record.roles.filter((item): item is string => typeof item === 'string');
  claims.scp = text(record.scp);
  claims.tid = text(record.tid);
  // v1 tokens say appid, v2 tokens azp.
  claims.appid = text(record.appid) ?? text(record.azp);
  claims.iss = text(record.iss);
  if (typeof record.exp === 'number' && Number.isFinite(record.exp)) claims.expiresOn = new Date(record.exp * 1000).toISOString();
  for (const key of Object.keys(claims) as Array<keyof TokenClaims>) if (claims[key] === undefined) delete claims[key];
  return claims;
}

export function isExchangeAudience(aud: TokenClaims['aud']): boolean {
  const audiences = aud === undefined ? [] : ([] as string[]).concat(aud);
  return audiences.some((item) => {
    const normalised = item.replace(/\/+$/, '').toLowerCase();
    return (EXCHANGE_AUDIENCES as readonly string[]).includes(normalised) || normalised === EXCHANGE_APP_ID;
  });
}

/**
 * What Exchange Online requires of an app-only SMTP token, in the order the
 * setup steps come: the right API (aud), the permission with consent (roles),
 * then that tenant and app are the configured ones. Empty when all hold.
 */
export function checkExchangeClaims(claims: TokenClaims, expected: ClaimExpectations): ClaimProblem[] {
  const problems: ClaimProblem[] = [];
  if (!isExchangeAudience(claims.aud)) {
    const scopes = expected.scopes ?? [];
    const aud = `aud is ${JSON.stringify(claims.aud ?? null)}`;
    // Advise the scope only when it is not already set: a right scope with a wrong token points at the endpoint.
    if (scopes.some(isExchangeScope)) {
      problems.push({ diagnosis: 'token_audience_despite_scope', observed: `${aud} although OAUTH2_SCOPES is ${scopes.join(' ')}` });
    } else {
      problems.push({ diagnosis: 'token_audience_not_exchange', observed: scopes.length ? `${aud}; OAUTH2_SCOPES is ${scopes.join(' ')}` : aud });
    }
  }
  const roles = claims.roles ?? [];
  if (!roles.includes(SMTP_ROLE)) {
    const scp = claims.scp ? `; scp is ${JSON.stringify(claims.scp)} (a delegated permission, not an application one)` : '';
    problems.push({ diagnosis: 'token_role_missing', observed: `roles is ${JSON.stringify(roles)}${scp}` });
  }
  // A tenant given as a domain name cannot be compared with the tid GUID.
  if (expected.tenantId && isGuid(expected.tenantId) && claims.tid && claims.tid.toLowerCase() !== expected.tenantId.toLowerCase()) {
    problems.push({ diagnosis: 'token_wrong_tenant', observed: `tid is ${claims.tid}, OAUTH2_TENANT_ID is ${expected.tenantId}` });
  }
  if (claims.appid && claims.appid.toLowerCase() !== expected.clientId.toLowerCase()) {
    problems.push({ diagnosis: 'token_wrong_app', observed: `appid is ${claims.appid}, OAUTH2_CLIENT_ID is ${expected.clientId}` });
  }
  return problems;
}

/** `https://outlook.office365.com/.default` and the guide's `https://outlook.office.com/.default`. */
function isExchangeScope(scope: string): boolean {
  return scope.toLowerCase().endsWith('/.default') && isExchangeAudience(scope.slice(0, -'/.default'.length));
}

/** The settings a token is judged against; only Microsoft Entra tokens are. */
export interface TokenJudgement extends ClaimExpectations {
  provider: 'microsoft' | 'generic' | 'google';
}

export function judgementOf(oauth: OAuthSettings): TokenJudgement {
  return { provider: oauth.provider, tenantId: oauth.provider === 'microsoft' ? oauth.tenantId : undefined, clientId: oauth.clientId, scopes: oauth.scopes };
}

export interface TokenReading {
  /** The claims that matter, in one line for logs and the doctor (never the token). */
  seen: string;
  /** What Exchange would object to, in setup-step order; empty when the token is what it requires. */
  problems: ClaimProblem[];
}

/**
 * The one reading of an access token the doctor and the send path share: undefined when
 * the token cannot be judged (another provider's, or not a JWT).
 */
export function readToken(token: string, settings: TokenJudgement): TokenReading | undefined {
  if (settings.provider !== 'microsoft') return undefined;
  const claims = decodeTokenClaims(token);
  if (!claims) return undefined;
  const seen = `aud ${JSON.stringify(claims.aud ?? null)}, roles ${JSON.stringify(claims.roles ?? [])}, tid ${claims.tid ?? '-'}, appid ${claims.appid ?? '-'}`;
  return { seen, problems: checkExchangeClaims(claims, settings) };
}

/** Why Exchange refused this token (535): the first claim problem, or, when the claims are right, Exchange's own side. */
export function refusedTokenCause(token: string, settings: TokenJudgement): ClaimProblem | undefined {
  const reading = readToken(token, settings);
  if (!reading) return undefined;
  const [first, ...others] = reading.problems;
  if (!first) {
    return {
      diagnosis: 'exchange_access_missing',
      observed: `the token's audience, roles, tenant and app are what Exchange requires (${reading.seen}), yet Exchange refused it`,
    };
  }
  return { diagnosis: first.diagnosis, observed: [first, ...others].map((problem) => problem.observed).join('; ') };
}

function isGuid(text: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text);
}

/* Microsoft Graph (the graph transport) ------------------------------------ */

/** Microsoft Graph's application ID, which v1 tokens may carry as aud. */
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_MAIL_SEND_ROLE = 'Mail.Send';
/** Drafts and upload sessions (messages over Graph's 4 MB request limit) need it besides Mail.Send. */
export const GRAPH_MAIL_READWRITE_ROLE = 'Mail.ReadWrite';

/** Whether `aud` names Graph at `graphUrl` (GRAPH_URL: a sovereign cloud has its own), or Graph's application ID. */
export function isGraphAudience(aud: TokenClaims['aud'], graphUrl: string): boolean {
  const expected = graphUrl.replace(/\/+$/, '').toLowerCase();
  const audiences = aud === undefined ? [] : ([] as string[]).concat(aud);
  return audiences.some((item) => {
    const normalised = item.replace(/\/+$/, '').toLowerCase();
    return normalised === expected || normalised === GRAPH_APP_ID;
  });
}

export interface GraphTokenReading {
  /** The claims that matter, in one line (never the token). */
  seen: string;
  /** What Graph would refuse the token for: the audience, the tenant, the app. */
  problems: ClaimProblem[];
  /**
   * No Mail.Send among the roles: wrong unless RBAC for Applications grants it in Exchange
   * (such tokens carry no role), so it is the caller's to weigh, not a certain failure.
   */
  roleMissing?: ClaimProblem;
  /** Mail.ReadWrite is among the roles: drafts and upload sessions work, and the mailbox can be read. */
  canReadWrite: boolean;
  /** The token carries no role at all (what RBAC for Applications gives). */
  noRoles: boolean;
}

/** The doctor's reading of a Graph token; undefined when it cannot be judged (not Entra's, or not a JWT). */
export function readGraphToken(token: string, settings: TokenJudgement, graphUrl: string): GraphTokenReading | undefined {
  if (settings.provider !== 'microsoft') return undefined;
  const claims = decodeTokenClaims(token);
  if (!claims) return undefined;
  const roles = claims.roles ?? [];
  const seen = `aud ${JSON.stringify(claims.aud ?? null)}, roles ${JSON.stringify(roles)}, tid ${claims.tid ?? '-'}, appid ${claims.appid ?? '-'}`;
  const problems: ClaimProblem[] = [];
  if (!isGraphAudience(claims.aud, graphUrl)) {
    problems.push({ diagnosis: 'graph_token_audience', observed: `aud is ${JSON.stringify(claims.aud ?? null)}, Graph is ${graphUrl}` });
  }
  // The tenant and the app are judged as for Exchange: the same app registration signs in to both.
  problems.push(
    ...checkExchangeClaims(claims, settings).filter((problem) => problem.diagnosis === 'token_wrong_tenant' || problem.diagnosis === 'token_wrong_app'),
  );
  const scp = claims.scp ? `; scp is ${JSON.stringify(claims.scp)} (a delegated permission, not an application one)` : '';
  const roleMissing = roles.includes(GRAPH_MAIL_SEND_ROLE)
    ? undefined
    : { diagnosis: 'graph_role_missing' as const, observed: `roles is ${JSON.stringify(roles)}${scp}` };
  return { seen, problems, ...(roleMissing ? { roleMissing } : {}), canReadWrite: roles.includes(GRAPH_MAIL_READWRITE_ROLE), noRoles: roles.length === 0 };
}
