/**
 * Client-credentials tokens signed with a certificate (OAUTH2_AUTH_MODE=certificate):
 * @azure/identity's ClientCertificateCredential, unchanged, builds the RFC 7523 client
 * assertion (x5t#S256 of the certificate, aud = the token endpoint, iss = sub = the
 * client id) and sends it. The PEM is checked first (readClientCertificate), and the
 * refusals that only a certificate can cause are named with their setup step.
 */
import { ClientCertificateCredential } from '@azure/identity';
import type { CertificateAuth } from '../settings';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { silentLogger, type Logger } from '../core/log';
import { readClientCertificate } from '../secrets/clientCertificate';
import { azureTlsPolicy } from '../transport/tls';
import { aadstsCodes, classifyIdentityError, type TokenEndpointFailure } from './classifyTokenError';
import { observeTokenEndpoint, type TokenSourceOptions } from './microsoftTokenSource';
import { DEFAULT_TOKEN_REQUEST_TIMEOUT_MS, type AccessToken, type TokenSource } from './types';

export type CertificateTokenSettings = Pick<
  CertificateAuth,
  'clientId' | 'scopes' | 'tenantId' | 'authorityHost' | 'disableInstanceDiscovery' | 'sendCertificateChain'
> & {
  /** The PEM (private key and certificate), wherever it was read. */
  certificatePem: string;
  /** Where the PEM was read, for messages. */
  source: string;
};

export class CertificateTokenSource implements TokenSource {
  private readonly logger: Logger;

  constructor(
    private readonly settings: CertificateTokenSettings,
    private readonly options: TokenSourceOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  async fetchToken(): Promise<AccessToken> {
    const certificate = readClientCertificate(this.settings.certificatePem, this.settings.source);
    const observed: TokenEndpointFailure = {};
    // A new credential per fetch, as in MicrosoftTokenSource: TokenCache decides when a token is renewed.
    const credential = new ClientCertificateCredential(
      this.settings.tenantId,
      this.settings.clientId,
      { certificate: certificate.pem },
      {
        authorityHost: this.settings.authorityHost,
        disableInstanceDiscovery: this.settings.disableInstanceDiscovery,
        sendCertificateChain: this.settings.sendCertificateChain,
        retryOptions: { maxRetries: 0 },
        additionalPolicies: [
          azureTlsPolicy(this.options.extraCa),
          // What the endpoint answered (MSAL keeps little of it), and a timeout per request.
          { policy: observeTokenEndpoint(observed, this.options.requestTimeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS), position: 'perRetry' },
        ],
      },
    );
    try {
      const result = await credential.getToken(this.settings.scopes);
      return { token: result.token, expiresOnTimestamp: result.expiresOnTimestamp };
    } catch (error) {
      const classified = certificateRemedy(classifyIdentityError(error, observed));
      this.logger.warn('the token endpoint refused the certificate assertion', {
        event: 'token.certificate_failed',
        thumbprintSha256: certificate.thumbprintSha256,
        ...classified.toJSON(),
      });
      throw classified;
    }
  }
}

/** AADSTS700027: no registered certificate verifies the signature; AADSTS700024: the assertion's time range (the clock). */
export function certificateRemedy(error: RelayError): RelayError {
  const codes = aadstsCodes({ errorDescription: error.providerReply });
  if (codes.includes(700027)) {
    return new RelayError('Could not get an access token: the client assertion signed with the certificate was refused (not registered on the app).', {
      reason: 'invalid_client_certificate',
      kind: 'configuration',
      providerReply: error.providerReply,
      ...advice('certificate_not_registered'),
      cause: error,
    });
  }
  if (codes.includes(700024)) {
    return new RelayError("Could not get an access token: the client assertion was outside its valid time range (the host's clock).", {
      reason: 'client_assertion_time_invalid',
      kind: 'configuration',
      providerReply: error.providerReply,
      ...advice('client_assertion_time_invalid'),
      cause: error,
    });
  }
  return error;
}
