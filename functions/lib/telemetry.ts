/**
 * Imported first by every registration, before @azure/functions and the relay: the distro and the
 * Functions instrumentation must be in place before the modules they instrument load. Starts once
 * per process, and only when Application Insights is configured (src/telemetry/start.ts).
 */
import { startTelemetry } from '../../src/telemetry';

startTelemetry();
