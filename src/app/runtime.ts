/**
 * The process's object graph, for the Functions host (functions/): the settings are
 * read once, and the components (token cache, SMTP pool, storage clients, ledger…)
 * are built once on first use and shared by every invocation on this instance (a
 * Functions worker runs many invocations in one process). Each function gets the
 * narrow view it needs: the queue handler, the monitor, the health checks, /api/send.
 *
 * Loading the function modules (the host does that at start) must stay cheap (issue 17:
 * cold start). So this module imports only types at load time; the relay and its SDKs
 * (storage, identity, Key Vault, nodemailer) are loaded with the first invocation that
 * needs them, and each function loads only its own part: a queue message never loads
 * the health checks, a health request never loads the queue handler.
 */
import type { Logger } from '../core/log';
import type { QueueDelivery } from '../delivery/ports';
import type { RelayOutcome } from '../relay/handler';
import type { HealthHandler } from '../http/health';
import type { TestSendDependencies } from '../http/testSend';
import type { MessageStatusDependencies } from '../http/messageStatus';
import type { HttpAnswer, HttpInput } from '../http/types';
import type { RelayComponents } from './components';
import type { Relay } from './relay';
import type { SecretMonitor } from './monitor';

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, not with the function modules (see above) */
const settings = () => require('../settings') as typeof import('../settings');
const parts = {
  components: () => require('./components') as typeof import('./components'),
  relay: () => require('./relay') as typeof import('./relay'),
  monitor: () => require('./monitor') as typeof import('./monitor'),
  diagnostics: () => require('./diagnostics') as typeof import('./diagnostics'),
  http: () => require('./http') as typeof import('./http'),
  holding: () => require('./holding') as typeof import('./holding'),
  messageStatus: () => require('./messageStatus') as typeof import('./messageStatus'),
  log: () => require('../core/log') as typeof import('../core/log'),
  redact: () => require('../core/redact') as typeof import('../core/redact'),
  telemetry: () => require('../telemetry') as typeof import('../telemetry'),
  misconfiguration: () => require('../relay/misconfiguration') as typeof import('../relay/misconfiguration'),
  health: () => require('../http/health') as typeof import('../http/health'),
  testSend: () => require('../http/testSend') as typeof import('../http/testSend'),
  status: () => require('../http/messageStatus') as typeof import('../http/messageStatus'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

let components: RelayComponents | undefined;
let relay: Relay | undefined;
let monitor: SecretMonitor | undefined;

/** Built on first use from the app settings; throws a ConfigError naming every bad setting. */
function processComponents(): RelayComponents {
  components ??= parts.components().createRelayComponents(settings().loadConfig(), parts.telemetry().telemetryLogger(parts.log().processLogger));
  return components;
}

/** The relay of this process. Throws a ConfigError naming every bad setting. */
export function getRelay(): Relay {
  relay ??= parts.relay().relayOf(processComponents());
  return relay;
}

/**
 * The queue function's work: the process's relay handles the message; while the settings
 * are invalid it is held, or left to the host, with the reason (src/relay/misconfiguration.ts).
 */
export async function handleQueueEntry(payload: unknown, delivery: QueueDelivery, logger: Logger): Promise<RelayOutcome> {
  let current: Relay;
  try {
    current = getRelay();
  } catch (error) {
    if (error instanceof settings().ConfigError) {
      const { handleWhileMisconfigured } = parts.misconfiguration();
      return handleWhileMisconfigured(payload, delivery, error, parts.redact().redactingLogger(logger), parts.holding().holdingParts);
    }
    throw error;
  }
  return current.handleQueueMessage(payload, delivery, logger);
}

/** The secret monitor of this process, over the shared components (src/monitor). */
export function getSecretMonitor(): SecretMonitor {
  monitor ??= parts.monitor().monitorOf(processComponents());
  return monitor;
}

/** `build()` once, on first use. */
function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}

/** One health handler per process (it keeps the last report for a short while), checking the process's own components. */
const healthHandler = once<HealthHandler>(() => {
  const { diagnosticTarget, senderTargets } = parts.diagnostics();
  return parts.health().createHealthHandler(() => diagnosticTarget(processComponents), {
    activity: () => getRelay().activity(),
    senders: () => senderTargets(processComponents),
  });
});

/** GET /api/health: the setup checks against this instance (src/http/health.ts). */
export const processHealth = (request: HttpInput): Promise<HttpAnswer> => healthHandler()(request);

const sendDependencies = once<TestSendDependencies>(() => parts.http().testSendDependencies(processComponents));

/** POST /api/send: through the process's sender, or onto its storage account's queue. */
export const processSend = (request: HttpInput): Promise<HttpAnswer> => parts.testSend().handleTestSend(request, sendDependencies());

const statusDependencies = once<MessageStatusDependencies>(() => parts.messageStatus().messageStatusDependencies());

/** GET /api/messages/{id}: the message's delivery status, from the ledger of the storage settings alone. */
export const processMessageStatus = (request: HttpInput, id: string | undefined): Promise<HttpAnswer> =>
  parts.status().handleMessageStatus(request, id, statusDependencies());
