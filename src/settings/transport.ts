/**
 * The transport section: how a sender hands messages over (RELAY_TRANSPORT) and what
 * the Graph transport needs beside the sender's credential (GRAPH_SAVE_TO_SENT_ITEMS;
 * the base URL is GRAPH_URL, read by the monitor section and handed in).
 *
 * Graph signs in with the sender's own app registration and credential, for the scope
 * `<GRAPH_URL>/.default` (a sovereign cloud's Graph gives its own scope); that needs
 * Microsoft Entra ID: a generic OAuth2 provider or password authentication cannot reach Graph.
 */
import type { SettingsReader } from './reader';
import type { AuthSettings, GraphPermissionGrant, GraphSettings, TransportKind, TransportSettings } from './types';

/** Graph's limit of concurrent requests per mailbox. */
export const GRAPH_MAILBOX_CONCURRENCY = 4;
/** One Graph request (an upload PUT of 3 MiB included) on a slow link. */
export const GRAPH_REQUEST_TIMEOUT_MS = 120_000;
export const TRANSPORT_KINDS: readonly TransportKind[] = ['smtp', 'graph', 'smtp-then-graph'];

/** The Graph part of a transport: GRAPH_URL's origin, the scope derived from it, saveToSentItems. */
export function graphSettings(graphUrl: string, saveToSentItems: boolean, permissionGrant: GraphPermissionGrant = 'auto'): GraphSettings {
  const url = graphUrl.replace(/\/+$/, '');
  return {
    url,
    scope: `${url}/.default`,
    saveToSentItems,
    permissionGrant,
    concurrency: GRAPH_MAILBOX_CONCURRENCY,
    requestTimeoutMs: GRAPH_REQUEST_TIMEOUT_MS,
  };
}

/** The default sender's transport. */
export function readTransport(reader: SettingsReader, graphUrl: string, auth: AuthSettings | undefined): TransportSettings {
  const kind = reader.choice('RELAY_TRANSPORT');
  const saveToSentItems = reader.boolean('GRAPH_SAVE_TO_SENT_ITEMS');
  if (!saveToSentItems) reader.report('GRAPH_SAVE_TO_SENT_ITEMS', SENT_ITEMS_PROBLEM);
  const transport = { kind, graph: graphSettings(graphUrl, saveToSentItems, reader.choice('GRAPH_PERMISSION_GRANT')) };
  const problem = graphAuthProblem(kind, auth);
  if (problem) reader.report('RELAY_TRANSPORT', problem);
  return transport;
}

/** Graph's MIME sendMail (and a draft's send) always saves to Sent Items: no documented way to say false. */
export const SENT_ITEMS_PROBLEM =
  'false cannot be honoured: the relay sends MIME through Graph (the same message as over SMTP), and Graph always keeps a MIME message in Sent Items';

/** Why this sign-in cannot reach Graph, when the transport needs Graph. */
export function graphAuthProblem(kind: TransportKind, auth: AuthSettings | undefined): string | undefined {
  if (kind === 'smtp' || auth === undefined) return undefined;
  if (auth.kind === 'password')
    return `${kind} signs in to Microsoft Graph with OAuth2 client credentials: set OAUTH2_ENABLED=true (password authentication cannot reach Graph)`;
  if (auth.provider !== 'microsoft') return `${kind} needs Microsoft Entra ID (OAUTH2_PROVIDER=microsoft): Microsoft Graph accepts only Entra tokens`;
  return undefined;
}

/** The OAuth2 settings of Graph's token: the sender's own, for Graph's scope. */
export function graphOAuth<A extends { scopes: string[] }>(auth: A, graph: Pick<GraphSettings, 'scope'>): A {
  return { ...auth, scopes: [graph.scope] };
}
