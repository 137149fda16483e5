/**
 * The TLS policy of every outbound connection the relay makes (SMTP, the token
 * endpoint, Key Vault, Microsoft Graph, the alert webhook): which certificate
 * authorities are trusted, and TLS 1.2 at least, whatever the process defaults
 * say (--tls-min-v1.0 lowers them). Certificate verification is never switched
 * off; an extra CA (TLS_EXTRA_CA_FILE, e.g. a corporate TLS-inspecting proxy or
 * the local test stack's CA) is added to the usual store.
 */
import https from 'node:https';
import tls from 'node:tls';
import type { ClientSecretCredentialOptions } from '@azure/identity';

/** The oldest TLS version any outbound connection accepts. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/**
 * The `ca` option for a TLS client, or undefined to keep Node's defaults.
 *
 * Node's `ca` option REPLACES the default store rather than adding to it, so
 * the defaults (Mozilla's bundle plus NODE_EXTRA_CA_CERTS and, where enabled,
 * the system store) are listed alongside the extra CA.
 */
export function trustedCertificates(extraCa: string | undefined): string[] | undefined {
  if (!extraCa || !extraCa.trim()) return undefined;
  return [...tls.getCACertificates('default'), extraCa];
}

const sharedContexts = new Map<string, tls.SecureContext>();

/**
 * One TLS context per extra CA for the process's SMTP connections, or undefined
 * to keep Node's defaults. Building a context from the full CA list costs about
 * 9 ms of CPU and 1.3 MB per connection (the pool reconnects every 100 messages),
 * so it is built once and shared; it also fixes the minimum TLS version.
 */
export function sharedSecureContext(extraCa: string | undefined): tls.SecureContext | undefined {
  const ca = trustedCertificates(extraCa);
  if (!ca) return undefined;
  let context = sharedContexts.get(extraCa!);
  if (!context) {
    // The minimum is explicit so that a lowered process default (--tls-min-v1.0) does not reach SMTP.
    context = tls.createSecureContext({ ca, minVersion: MIN_TLS_VERSION });
    sharedContexts.set(extraCa!, context);
  }
  return context;
}

/** The TLS options of an outbound connection: the shared context (with an extra CA) and the minimum version. */
export function outboundTlsOptions(extraCa: string | undefined): { secureContext?: tls.SecureContext; minVersion: typeof MIN_TLS_VERSION } {
  const secureContext = sharedSecureContext(extraCa);
  return { ...(secureContext ? { secureContext } : {}), minVersion: MIN_TLS_VERSION };
}

const sharedAgents = new Map<string, https.Agent>();

/**
 * One keep-alive HTTPS agent per extra CA, for every HTTPS request the relay makes
 * itself (node:https) or through an Azure SDK client (azureTlsPolicy). Idle sockets
 * do not keep the process alive (Node unrefs them).
 */
export function outboundHttpsAgent(extraCa: string | undefined): https.Agent {
  const key = extraCa?.trim() ? extraCa : '';
  let agent = sharedAgents.get(key);
  if (!agent) {
    agent = new https.Agent({ keepAlive: true, ...outboundTlsOptions(extraCa) });
    sharedAgents.set(key, agent);
  }
  return agent;
}

/** An Azure SDK pipeline policy (named through @azure/identity's options: core-rest-pipeline is not our dependency). */
type PipelinePolicy = NonNullable<ClientSecretCredentialOptions['additionalPolicies']>[number]['policy'];

/**
 * For an Azure SDK client's `additionalPolicies`: its HTTPS requests go through
 * outboundHttpsAgent. The SDK's own `tlsOptions` take CAs but no minimum version.
 * Plain-HTTP requests (the managed identity endpoint) are left alone, and so is an
 * agent already chosen, e.g. the SDK's proxy agent when HTTPS_PROXY is set.
 */
export function azureTlsPolicy(extraCa: string | undefined): { policy: PipelinePolicy; position: 'perCall' } {
  const agent = outboundHttpsAgent(extraCa);
  return {
    position: 'perCall',
    policy: {
      name: 'relayOutboundTls',
      sendRequest(request, next) {
        if (!request.agent && request.url.startsWith('https:')) request.agent = agent;
        return next(request);
      },
    },
  };
}
