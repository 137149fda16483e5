/**
 * What the checks run against: the process's own components for GET /api/health,
 * components built from the given settings for the doctor (closed after it). With
 * several senders (RELAY_SENDERS) each sender gets a target of its own, over its own
 * secret source, token cache and SMTP pool.
 */
import { ConfigError, DEFAULT_SENDER_ID, graphOAuth, loadConfig, oauthOf, type Environment, type RelayConfig } from '../settings';
import { classifyGraphError, createGraphMailSender, graphRequest, type GraphMailSender } from '../graph';
import { silentLogger, type Logger } from '../core/log';
import { createTokenSource } from '../token';
import type { DiagnosticTarget, GraphDiagnosticTarget } from '../diagnostics/checks';
import { relayTarget, type RelayParts } from '../diagnostics/target';
import type { DoctorTarget, SenderTarget } from '../cli/doctor';
import { createRelayComponents, type RelayComponents, type RelayIdentityOverrides, type SenderComponents } from './components';

/** `load` may throw ConfigError: the configuration check reports it. */
export function diagnosticTarget(load: () => RelayComponents): DiagnosticTarget {
  return senderDiagnosticTarget(load, DEFAULT_SENDER_ID);
}

/** One sender's checks: the settings seen as that sender's (its SMTP, sign-in and mailbox), over its own parts. */
export function senderDiagnosticTarget(load: () => RelayComponents, id: string): DiagnosticTarget {
  return relayTarget(() => senderParts(load(), id), {
    freshToken: (parts) => {
      const oauth = oauthOf(parts.config.auth);
      // The token check runs only with OAuth2 on.
      if (!oauth) return Promise.reject(new Error('OAuth2 is off: there is no token to fetch'));
      return createTokenSource(oauth, { extraCa: parts.config.smtp.extraCa, secrets: parts.secrets }).fetchToken();
    },
  });
}

/** Every sender's target, the default one first; only the default one while the settings cannot be read (its configuration check says why). */
export function senderTargets(load: () => RelayComponents): SenderTarget[] {
  let ids: string[] = [DEFAULT_SENDER_ID];
  try {
    ids = load().senders.list.map((sender) => sender.id);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  return ids.map((id) => ({ id, target: senderDiagnosticTarget(load, id) }));
}

function senderParts(components: RelayComponents, id: string): RelayParts {
  const graph = graphSide(components.senders.get(id), components.logger);
  if (id === DEFAULT_SENDER_ID) return { ...components, graph };
  const one = components.senders.get(id);
  const { smtp, auth, mail } = one.settings;
  return { config: { ...components.config, smtp, auth, mail }, sender: one.sender, tokens: one.tokens, secrets: one.secrets, graph };
}

/** One Graph side per sender's parts (its test-message sender made once, on first use). */
const graphSides = new WeakMap<SenderComponents, GraphDiagnosticTarget | undefined>();

/**
 * What the Graph checks run against: the sender's Graph token cache (or a fresh token from its own
 * source), the drafts folder read with the project's TLS policy, and a Graph sender of its own for
 * the test message (smtp-then-graph's sender would try SMTP first).
 */
function graphSide(one: SenderComponents, logger: Logger): GraphDiagnosticTarget | undefined {
  if (graphSides.has(one)) return graphSides.get(one);
  const graph = one.settings.transport?.graph;
  const oauth = oauthOf(one.settings.auth);
  const tokens = one.graphTokens;
  let side: GraphDiagnosticTarget | undefined;
  if (one.transport !== 'smtp' && graph && oauth && tokens) {
    const { extraCa } = one.settings.smtp;
    const mailbox = one.settings.mail.user;
    let sender: GraphMailSender | undefined;
    side = {
      transport: one.transport,
      url: graph.url,
      permissionGrant: graph.permissionGrant,
      mailbox,
      token: (fresh) => (fresh ? createTokenSource(graphOAuth(oauth, graph), { extraCa, secrets: one.secrets }).fetchToken() : tokens.getToken()),
      async readDrafts(token) {
        const url = `${graph.url}/v1.0/users/${encodeURIComponent(mailbox)}/mailFolders('drafts')?$select=id`;
        const answer = await graphRequest({ method: 'GET', url, token }, { extraCa, timeoutMs: graph.requestTimeoutMs });
        if (answer.status !== 200) throw classifyGraphError(answer, 'sendMail');
      },
      send: (mail) => (sender ??= createGraphMailSender({ graph, mailbox, tokens, extraCa, logger })).send(mail),
    };
  }
  graphSides.set(one, side);
  return side;
}

export interface DoctorTargetOptions {
  logger?: Logger;
  /** Stand-ins for the managed identity (tests, the local run). */
  identity?: RelayIdentityOverrides;
}

/**
 * The doctor's target: components built from `env` when a check first needs them (a
 * ConfigError then fails the settings check), their SMTP pools closed by `close`. Being
 * new, their token caches are empty: the token check asks the endpoint, through the relay's
 * own secret source.
 */
export function openDoctorTarget(env: Environment, options: DoctorTargetOptions = {}): DoctorTarget {
  let components: RelayComponents | undefined;
  // The doctor runs anywhere, often without access to the app's storage: its one test message goes on a
  // connection of its own, outside the app-wide connection slots and sending window (RELAY_LIMITS_SCOPE=app).
  const forDoctor = (config: RelayConfig): RelayConfig => ({
    ...config,
    smtp: { ...config.smtp, limitsScope: 'instance' },
    senders: config.senders?.map((sender) => ({ ...sender, smtp: { ...sender.smtp, limitsScope: 'instance' } })),
  });
  const load = () => (components ??= createRelayComponents(forDoctor(loadConfig(env)), options.logger ?? silentLogger, options.identity));
  return {
    target: diagnosticTarget(load),
    senders: () => senderTargets(load),
    async close() {
      for (const one of components?.senders.built() ?? []) one.sender.close();
    },
  };
}
