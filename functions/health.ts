import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { createHealthHandler } from '../src/http/health';
import { httpInput, httpResponse, processTarget } from './lib/http';

const handleHealth = createHealthHandler(processTarget);

/** GET /api/health[?fresh=true]: the setup checks against this instance (see src/http/health.ts). */
export async function health(request: HttpRequest): Promise<HttpResponseInit> {
  return httpResponse(await handleHealth(httpInput(request)));
}

app.http('health', { methods: ['GET'], authLevel: 'function', route: 'health', handler: health });
