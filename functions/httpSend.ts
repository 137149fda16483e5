// First: telemetry must start before the modules it instruments load.
import './lib/telemetry';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { processSend } from '../src/app/runtime';
import { httpInput, httpResponse } from './lib/http';

/** POST /api/send[?mode=enqueue]: send one message now (or queue it) and answer with the outcome (see src/http/testSend.ts). */
export async function httpSend(request: HttpRequest): Promise<HttpResponseInit> {
  return httpResponse(await processSend(httpInput(request)));
}

app.http('httpSend', { methods: ['POST'], authLevel: 'function', route: 'send', handler: httpSend });
