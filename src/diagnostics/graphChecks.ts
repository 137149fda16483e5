/**
 * The checks of a Graph sender (transport graph or smtp-then-graph), beside the SMTP
 * ones in checks.ts: a token for Graph (its own, not the SMTP one), its claims read
 * locally (Graph's audience, the tenant, the app; Mail.Send among the roles, and
 * Mail.ReadWrite noted for large messages), and the mailbox reached through Graph.
 *
 * With Mail.Send alone Graph offers nothing to read, so only a message proves the
 * mailbox: the check then says so, and how to send one. With Mail.ReadWrite (or with no
 * role at all, as RBAC for Applications gives) it reads the mailbox's drafts folder id:
 * 403 ErrorAccessDenied is the access policy or RBAC scope, MailboxNotEnabledForRESTAPI
 * the licence.
 */
import { isRelayError } from '../core/errors';
import { remedyText } from '../core/diagnoses';
import type { AccessToken } from '../token';
import { readGraphToken, type GraphTokenReading, type TokenJudgement } from '../token/claims';
import { findingFor, findingOfError, type Finding } from './findings';
import type { SentMessage } from '../delivery/ports';
import type { SendMailOptions } from 'nodemailer';

/** The Graph side of a sender, for the checks; absent for an SMTP sender. */
export interface GraphDiagnosticTarget {
  /** graph: Graph only (the SMTP checks do not apply); smtp-then-graph: SMTP, and Graph after 535 5.7.139 (both are checked). */
  transport: 'graph' | 'smtp-then-graph';
  /** GRAPH_URL: the audience its tokens must carry. */
  url: string;
  /** GRAPH_PERMISSION_GRANT: rbac (no role expected in the token), entra (Mail.Send expected), auto (either). */
  permissionGrant: 'auto' | 'rbac' | 'entra';
  /** The mailbox Graph sends as (/users/{mailbox}). */
  mailbox: string;
  /** A Graph token: the sender's Graph token cache's, or (fresh) one straight from the endpoint. Rejects with a RelayError. */
  token(fresh: boolean): Promise<AccessToken>;
  /** GET /users/{mailbox}/mailFolders('drafts')?$select=id with this token: resolves on 200, rejects with the classified RelayError. */
  readDrafts(token: string): Promise<void>;
  /** Send through the Graph sender itself (not the SMTP side of smtp-then-graph). */
  send(mail: SendMailOptions): Promise<SentMessage>;
}

export interface GraphCheckOutcome {
  status: 'ok' | 'warning' | 'failed' | 'skipped';
  detail?: string;
  finding?: Finding;
}

export async function graphTokenCheck(graph: GraphDiagnosticTarget, fresh: boolean): Promise<GraphCheckOutcome & { token?: AccessToken }> {
  let token: AccessToken;
  try {
    token = await graph.token(fresh);
  } catch (error) {
    if (isRelayError(error)) return { status: 'failed', finding: findingOfError(error) };
    throw error;
  }
  const from = fresh ? ', asked for now' : '';
  return { status: 'ok', token, detail: `Graph token obtained${from}; expires ${new Date(token.expiresOnTimestamp).toISOString()}` };
}

const READ_WRITE_NOTE = {
  yes: 'Mail.ReadWrite granted: messages over 3 MB go as drafts with upload sessions',
  no: 'no Mail.ReadWrite: messages over 3 MB (drafts and upload sessions) will be refused; grant it if large messages are expected',
};

export function graphClaimsCheck(
  graph: GraphDiagnosticTarget,
  token: AccessToken,
  judgement: TokenJudgement,
): GraphCheckOutcome & { reading?: GraphTokenReading } {
  const reading = readGraphToken(token.token, judgement, graph.url);
  if (!reading) return { status: 'skipped', detail: 'the token is not a JWT, so its claims cannot be read locally' };
  const detail = `${reading.seen}; ${reading.canReadWrite ? READ_WRITE_NOTE.yes : READ_WRITE_NOTE.no}`;
  if (reading.problems.length > 0) {
    const observed = reading.problems.map((problem) => problem.observed).join('; ');
    return { status: 'failed', detail, reading, finding: findingFor(reading.problems[0]!.diagnosis, { observed }) };
  }
  // RBAC for Applications grants Mail.Send in Exchange, and its tokens carry no role; an Entra consent puts the role in the token.
  switch (graph.permissionGrant) {
    case 'rbac':
      if (!reading.roleMissing) return { status: 'failed', detail, reading, finding: findingFor('graph_consent_voids_rbac') };
      return { status: 'ok', detail: `${detail}; no Entra role, as RBAC for Applications grants (GRAPH_PERMISSION_GRANT=rbac)`, reading };
    case 'entra':
      if (reading.roleMissing)
        return { status: 'failed', detail, reading, finding: findingFor('graph_role_missing', { observed: reading.roleMissing.observed }) };
      return { status: 'ok', detail, reading };
    case 'auto':
      if (reading.roleMissing)
        return { status: 'warning', detail, reading, finding: findingFor('graph_role_missing', { observed: reading.roleMissing.observed }) };
      return { status: 'ok', detail, reading };
  }
}

/** How an operator proves the mailbox when nothing can be read: a test message, from the doctor or the send endpoint. */
const HOW_TO_SEND = 'oauth2-smtp-relay doctor --send-to <address> (or POST /api/send)';

export async function graphMailboxCheck(graph: GraphDiagnosticTarget, token: AccessToken, reading: GraphTokenReading | undefined): Promise<GraphCheckOutcome> {
  const unproven = remedyText('graph_reachability_unproven', { sendTo: HOW_TO_SEND });
  // Mail.Send alone: no read endpoint, so nothing is asked of Graph here.
  if (reading && !reading.canReadWrite && !reading.noRoles)
    return { status: 'skipped', detail: `With Mail.Send alone Graph offers nothing to read. ${unproven}` };
  try {
    await graph.readDrafts(token.token);
  } catch (error) {
    if (!isRelayError(error)) throw error;
    // A token without roles: RBAC for Applications may grant Application Mail.Send alone, which reads nothing.
    if (reading?.noRoles && error.reason === 'graph_access_denied') {
      const reply = error.providerReply ?? 'access denied';
      return {
        status: 'skipped',
        detail: `${graph.mailbox}: ${reply} reading the drafts folder, as when RBAC for Applications grants Application Mail.Send alone. ${unproven}`,
      };
    }
    return { status: 'failed', detail: graph.mailbox, finding: findingOfError(error) };
  }
  return { status: 'ok', detail: `${graph.mailbox} answers through Microsoft Graph (its drafts folder was read)` };
}
