/**
 * What the checks run against: the process's own components for GET /api/health,
 * components built from the given settings for the doctor (closed after it).
 */
import { loadConfig, oauthOf, type Environment, type RelayConfig } from '../settings';
import { silentLogger, type Logger } from '../core/log';
import { createTokenSource } from '../token';
import type { DiagnosticTarget } from '../diagnostics/checks';
import { relayTarget } from '../diagnostics/target';
import type { DoctorTarget } from '../cli/doctor';
import { createRelayComponents, type RelayComponents, type RelayIdentityOverrides } from './components';

/** `load` may throw ConfigError: the configuration check reports it. */
export function diagnosticTarget(load: () => RelayComponents): DiagnosticTarget {
  return relayTarget(load, {
    freshToken: (parts) => {
      const oauth = oauthOf(parts.config.auth);
      // The token check runs only with OAuth2 on.
      if (!oauth) return Promise.reject(new Error('OAuth2 is off: there is no token to fetch'));
      return createTokenSource(oauth, { extraCa: parts.config.smtp.extraCa, secrets: parts.secrets }).fetchToken();
    },
  });
}

export interface DoctorTargetOptions {
  logger?: Logger;
  /** Stand-ins for the managed identity (tests, the local run). */
  identity?: RelayIdentityOverrides;
}

/**
 * The doctor's target: components built from `env` when a check first needs them (a
 * ConfigError then fails the settings check), their SMTP pool closed by `close`. Being
 * new, their token cache is empty: the token check asks the endpoint, through the relay's
 * own secret source.
 */
export function openDoctorTarget(env: Environment, options: DoctorTargetOptions = {}): DoctorTarget {
  let components: RelayComponents | undefined;
  // The doctor runs anywhere, often without access to the app's storage: its one test message goes on a
  // connection of its own, outside the app-wide connection slots and sending window (RELAY_LIMITS_SCOPE=app).
  const forDoctor = (config: RelayConfig): RelayConfig => ({ ...config, smtp: { ...config.smtp, limitsScope: 'instance' } });
  const load = () => (components ??= createRelayComponents(forDoctor(loadConfig(env)), options.logger ?? silentLogger, options.identity));
  return {
    target: diagnosticTarget(load),
    async close() {
      components?.sender.close();
    },
  };
}
