// First: telemetry must start before the modules it instruments load.
import './lib/telemetry';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { processMessageStatus } from '../src/app/runtime';
import { httpInput, httpResponse } from './lib/http';

/** GET /api/messages/{id}: one message's delivery status from the ledger (see src/http/messageStatus.ts). */
export async function messageStatus(request: HttpRequest): Promise<HttpResponseInit> {
  return httpResponse(await processMessageStatus(httpInput(request), request.params.id));
}

app.http('messageStatus', { methods: ['GET'], authLevel: 'function', route: 'messages/{id}', handler: messageStatus });
