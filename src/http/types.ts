/**
 * HTTP requests and answers as the handlers see them, free of the Functions
 * host: functions/lib/http.ts adapts HttpRequest and HttpResponseInit.
 */

export interface HttpInput {
  method: string;
  query: URLSearchParams;
  headers: { get(name: string): string | null };
  /**
   * The body as it arrives, chunk by chunk (null: none). Read it with readBoundedBody
   * (src/http/requestBody.ts), which stops at a limit instead of holding it whole.
   */
  body: AsyncIterable<Uint8Array> | null;
}

export interface HttpAnswer {
  status: number;
  /** Always JSON-able and free of secrets (the handlers redact it). */
  jsonBody: unknown;
  headers?: Record<string, string>;
}
