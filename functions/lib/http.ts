/** Adapters between the Functions host's HTTP types and the host-free handlers of src/http. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { HttpAnswer, HttpInput } from '../../src/http/types';

/** The request with its body as a stream (web ReadableStream, async-iterable), read by the handler up to its limit. */
export function httpInput(request: HttpRequest): HttpInput {
  return { method: request.method, query: request.query, headers: request.headers, body: request.body };
}

export function httpResponse(answer: HttpAnswer): HttpResponseInit {
  return { status: answer.status, jsonBody: answer.jsonBody, ...(answer.headers ? { headers: answer.headers } : {}) };
}
