/**
 * One HTTPS request to Microsoft Graph (or to an upload URL it handed out), with the
 * project's TLS policy (src/transport/tls.ts) and a timeout. The body is a buffer or a
 * stream of known length, so nothing here holds more than the caller gave; the answer's
 * text is kept up to ANSWER_LIMIT only (Graph's answers to these calls are small JSON).
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { redact } from '../core/redact';
import { describeNetworkFailure, networkFailureOf } from '../transport/networkFailure';
import { outboundHttpsAgent } from '../transport/tls';

export interface GraphRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** The Bearer token; absent for upload URLs (they carry their own authorization, and refuse a token). */
  token?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
}

export interface GraphAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The answer's text (at most ANSWER_LIMIT characters). */
  text: string;
}

export interface GraphConnection {
  extraCa?: string;
  timeoutMs: number;
}

const ANSWER_LIMIT = 64 * 1024;

export function graphRequest(request: GraphRequest, connection: GraphConnection): Promise<GraphAnswer> {
  const body = request.body;
  return new Promise<GraphAnswer>((resolve, reject) => {
    const outgoing = https.request(request.url, {
      method: request.method,
      agent: outboundHttpsAgent(connection.extraCa),
      headers: {
        accept: 'application/json',
        ...(request.token === undefined ? {} : { authorization: `Bearer ${request.token}` }),
        ...(body === undefined ? { 'content-length': 0 } : { 'content-length': Buffer.byteLength(body) }),
        ...request.headers,
      },
      timeout: connection.timeoutMs,
    });
    outgoing.on('timeout', () =>
      outgoing.destroy(Object.assign(new Error(`Microsoft Graph did not answer within ${connection.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    outgoing.on('error', reject);
    outgoing.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (text.length < ANSWER_LIMIT) text += chunk.slice(0, ANSWER_LIMIT - text.length);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
      response.on('error', reject);
    });
    outgoing.end(body);
  }).catch((error: unknown) => {
    throw unreachable(error);
  });
}

/** A request that got no answer: Graph unreachable, TLS, timeout, reset; transient. */
function unreachable(error: unknown): RelayError {
  const failure = networkFailureOf(error);
  const text = failure ? describeNetworkFailure(failure) : error instanceof Error ? error.message : String(error);
  return new RelayError(`Microsoft Graph could not be reached: ${redact(text)}`, {
    reason: 'graph_unavailable',
    kind: 'transient',
    ...advice('graph_unavailable'),
    cause: error,
  });
}

/** The body of a stream read into a buffer of at most `limit` bytes; undefined when it holds more. */
export async function readUpTo(stream: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    length += piece.length;
    if (length > limit) {
      stream.destroy();
      return undefined;
    }
    chunks.push(piece);
  }
  return Buffer.concat(chunks, length);
}
