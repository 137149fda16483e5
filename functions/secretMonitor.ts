// First: telemetry must start before the modules it instruments load.
import './lib/telemetry';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { getSecretMonitor } from '../src/app/runtime';
import { MONITOR_RUN_ON_STARTUP, monitorSchedule } from '../src/monitor/schedule';
import { contextLogger } from './lib/invocation';

/** Timer: pre-warms secret, token and SMTP connection; alerts on secret expiry and failures (src/monitor). */
export async function secretMonitor(_timer: Timer, context: InvocationContext): Promise<void> {
  await getSecretMonitor().run(contextLogger(context));
}

app.timer('secretMonitor', { schedule: monitorSchedule(), runOnStartup: MONITOR_RUN_ON_STARTUP, handler: secretMonitor });
