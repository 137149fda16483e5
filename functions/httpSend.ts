import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { handleTestSend } from '../src/http/testSend';
import { httpInput, httpResponse, testSendDependencies } from './lib/http';

/** POST /api/send[?mode=enqueue]: send one message now (or queue it) and answer with the outcome (see src/http/testSend.ts). */
export async function httpSend(request: HttpRequest): Promise<HttpResponseInit> {
  return httpResponse(await handleTestSend(httpInput(request), testSendDependencies));
}

app.http('httpSend', { methods: ['POST'], authLevel: 'function', route: 'send', handler: httpSend });
