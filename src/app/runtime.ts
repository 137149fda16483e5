/**
 * The process's object graph, for the Functions host (functions/): the settings are
 * read once, and the components (token cache, SMTP pool, storage clients, ledger…)
 * are built once on first use and shared by every invocation on this instance (a
 * Functions worker runs many invocations in one process). Each function gets the
 * narrow view it needs: the queue handler, the monitor, the health checks, /api/send.
 */
import { ConfigError, loadConfig } from '../settings';
import { processLogger, type Logger } from '../core/log';
import { redactingLogger } from '../core/redact';
import { telemetryLogger } from '../telemetry';
import type { QueueDelivery } from '../delivery/ports';
import type { RelayOutcome } from '../relay/handler';
import { handleWhileMisconfigured } from '../relay/misconfiguration';
import { createHealthHandler } from '../http/health';
import { handleTestSend } from '../http/testSend';
import type { HttpAnswer, HttpInput } from '../http/types';
import { createRelayComponents, type RelayComponents } from './components';
import { relayOf, type Relay } from './relay';
import { monitorOf, type SecretMonitor } from './monitor';
import { diagnosticTarget, senderTargets } from './diagnostics';
import { testSendDependencies } from './http';
import { holdingParts } from './holding';
import { handleMessageStatus } from '../http/messageStatus';
import { messageStatusDependencies } from './messageStatus';

let components: RelayComponents | undefined;
let relay: Relay | undefined;
let monitor: SecretMonitor | undefined;

/** Built on first use from the app settings; throws a ConfigError naming every bad setting. */
function processComponents(): RelayComponents {
  components ??= createRelayComponents(loadConfig(), telemetryLogger(processLogger));
  return components;
}

/** The relay of this process. Throws a ConfigError naming every bad setting. */
export function getRelay(): Relay {
  relay ??= relayOf(processComponents());
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
    if (error instanceof ConfigError) return handleWhileMisconfigured(payload, delivery, error, redactingLogger(logger), holdingParts);
    throw error;
  }
  return current.handleQueueMessage(payload, delivery, logger);
}

/** The secret monitor of this process, over the shared components (src/monitor). */
export function getSecretMonitor(): SecretMonitor {
  monitor ??= monitorOf(processComponents());
  return monitor;
}

/** GET /api/health: one handler per process (it keeps the last report for a short while), checking the process's own components. */
export const processHealth = createHealthHandler(() => diagnosticTarget(processComponents), {
  activity: () => getRelay().activity(),
  senders: () => senderTargets(processComponents),
});

const sendDependencies = testSendDependencies(processComponents);

/** POST /api/send: through the process's sender, or onto its storage account's queue. */
export const processSend = (request: HttpInput): Promise<HttpAnswer> => handleTestSend(request, sendDependencies);

const statusDependencies = messageStatusDependencies();

/** GET /api/messages/{id}: the message's delivery status, from the ledger of the storage settings alone. */
export const processMessageStatus = (request: HttpInput, id: string | undefined): Promise<HttpAnswer> => handleMessageStatus(request, id, statusDependencies);
