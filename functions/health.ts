// First: telemetry must start before the modules it instruments load.
import './lib/telemetry';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { processHealth } from '../src/app/runtime';
import { httpInput, httpResponse } from './lib/http';

/** GET /api/health[?fresh=true]: the setup checks against this instance (see src/http/health.ts). */
export async function health(request: HttpRequest): Promise<HttpResponseInit> {
  return httpResponse(await processHealth(httpInput(request)));
}

app.http('health', { methods: ['GET'], authLevel: 'function', route: 'health', handler: health });
