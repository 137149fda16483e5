/**
 * Reads a request body up to a limit. A caller with a function key is a producer,
 * not an operator: its body is read chunk by chunk and dropped (the rest cancelled)
 * as soon as it passes the limit, whatever Content-Length says or omits, so no
 * body is ever held, decoded or parsed beyond the limit.
 */
import type { HttpInput } from './types';

export type BoundedBody = { status: 'read'; bytes: Buffer } | { status: 'too_large'; limitBytes: number };

export async function readBoundedBody(request: Pick<HttpInput, 'headers' | 'body'>, limitBytes: number): Promise<BoundedBody> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    await request.body?.[Symbol.asyncIterator]().return?.();
    return { status: 'too_large', limitBytes };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (request.body) {
    // Leaving the loop early cancels the stream: the rest is never read.
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > limitBytes) return { status: 'too_large', limitBytes };
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  }
  return { status: 'read', bytes: Buffer.concat(chunks, size) };
}
