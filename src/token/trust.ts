/**
 * Which certificate authorities the relay's TLS clients (token endpoint, SMTP)
 * trust. Certificate verification is never switched off; an extra CA
 * (TLS_EXTRA_CA_FILE, e.g. a corporate TLS-inspecting proxy or the local test
 * stack's CA) is added to the usual store.
 */
import tls from 'node:tls';

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
    context = tls.createSecureContext({ ca, minVersion: 'TLSv1.2' });
    sharedContexts.set(extraCa!, context);
  }
  return context;
}
