/**
 * IngestionDouble: a TEST DOUBLE of the Application Insights ingestion endpoint (Breeze) the Azure
 * Monitor exporters post to, over loopback HTTPS (the exporter always uses TLS): POST /v2.1/track with a JSON array of envelopes
 * (gzip when Content-Encoding says so) → 200 { itemsReceived, itemsAccepted, errors: [] }. Every
 * other request (live metrics pings) gets 200 and an empty body. It keeps what it received, so a
 * test sees exactly what would have been stored in Application Insights: each envelope's data type
 * (MessageData = a `traces` row, RequestData, RemoteDependencyData, MetricData...) and its
 * properties (customDimensions).
 */
import type https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { loopbackUrl, startLoopbackHttps } from '../../local/doubles/loopbackHttps';

export interface Envelope {
  name: string;
  time: string;
  tags?: Record<string, string>;
  data: {
    baseType: string;
    baseData: { message?: string; name?: string; properties?: Record<string, string>; metrics?: Array<{ name: string; value: number }> } & Record<
      string,
      unknown
    >;
  };
}

export class IngestionDouble {
  envelopes: Envelope[] = [];

  private constructor(private readonly server: https.Server) {}

  static async start(tls: { certPem: string; keyPem: string }): Promise<IngestionDouble> {
    const received: Envelope[] = [];
    const server = await startLoopbackHttps(tls, (request, response) => IngestionDouble.answer(request, response, received));
    const double = new IngestionDouble(server);
    double.envelopes = received;
    return double;
  }

  private static async answer(request: IncomingMessage, response: ServerResponse, received: Envelope[]): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method === 'POST' && request.url?.includes('/track')) {
      let body = Buffer.concat(chunks);
      if (/gzip/i.test(request.headers['content-encoding'] ?? '')) body = gunzipSync(body);
      const items = JSON.parse(body.toString('utf8')) as Envelope[];
      received.push(...items);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
      return;
    }
    response.writeHead(200);
    response.end();
  }

  get url(): string {
    return `${loopbackUrl(this.server)}/`;
  }

  /** A connection string that sends everything here. */
  connectionString(): string {
    return `InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=${this.url};LiveEndpoint=${this.url}`;
  }

  /** The `traces` rows: MessageData envelopes. */
  messages(): Envelope[] {
    return this.envelopes.filter((envelope) => envelope.data.baseType === 'MessageData');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
