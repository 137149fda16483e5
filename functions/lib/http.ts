/** Adapters between the Functions host's HTTP types and the host-free handlers of src/http. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { HttpAnswer, HttpInput } from '../../src/http/types';
import type { TestSendDependencies } from '../../src/http/testSend';
import { createHealthHandler } from '../../src/http/health';
import { relayTarget } from '../../src/diagnostics/target';
import type { DiagnosticTarget } from '../../src/diagnostics/checks';
import { getRelay } from '../../src/app/runtime';

/** The request with its body as a stream (web ReadableStream, async-iterable), read by the handler up to its limit. */
export function httpInput(request: HttpRequest): HttpInput {
  return { method: request.method, query: request.query, headers: request.headers, body: request.body };
}

export function httpResponse(answer: HttpAnswer): HttpResponseInit {
  return { status: answer.status, jsonBody: answer.jsonBody, ...(answer.headers ? { headers: answer.headers } : {}) };
}

const createdQueues = new Set<string>();

/** The process's relay for sending, and its storage account's queue for enqueueing. */
export const testSendDependencies: TestSendDependencies = {
  relay: () => getRelay(),
  async enqueue(queueName, text) {
    const queue = getRelay().storage.queues.getQueueClient(queueName);
    if (!createdQueues.has(queueName)) {
      await queue.createIfNotExists();
      createdQueues.add(queueName);
    }
    // Plain JSON text: host.json reads queue messages with messageEncoding "none", and the relay also accepts base64.
    const sent = await queue.sendMessage(text);
    return { messageId: sent.messageId };
  },
};

/** The checks against the process's relay: its token cache and SMTP pool. */
export function processTarget(): DiagnosticTarget {
  return relayTarget(() => getRelay());
}

/** One health handler per process: it keeps the last report for a short while. */
export const processHealth = createHealthHandler(processTarget, { activity: () => getRelay().activity() });
