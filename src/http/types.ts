/**
 * HTTP requests and answers as the handlers see them, free of the Functions
 * host: functions/lib/http.ts adapts HttpRequest and HttpResponseInit.
 */

export interface HttpInput {
  method: string;
  query: URLSearchParams;
  /** The body as text (read once). */
  text(): Promise<string>;
}

export interface HttpAnswer {
  status: number;
  /** Always JSON-able and free of secrets (the handlers redact it). */
  jsonBody: unknown;
  headers?: Record<string, string>;
}
