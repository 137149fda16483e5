import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyIdentityError,
  classifyTokenFailure,
  parseRetryAfter,
  parseTokenErrorBody,
  type TokenEndpointFailure,
} from '../../../src/token/classifyTokenError';
import { registerSecret } from '../../../src/core/redact';

/** An error answer exactly as Entra sends it (description with trace lines). */
function entraBody(error: string, code: number, text: string): string {
  return JSON.stringify({
    error,
    error_description: `AADSTS${code}: ${text}\r\nTrace ID: 0b2c0f5e-5b1f-4e5e-8a47-1d2c3b4a5e00\r\nCorrelation ID: 5c0e7c1a-1111-4222-8333-944455556666\r\nTimestamp: 2026-11-30 10:00:00Z`,
    error_codes: [code],
    timestamp: '2026-11-30 10:00:00Z',
    trace_id: '0b2c0f5e-5b1f-4e5e-8a47-1d2c3b4a5e00',
    correlation_id: '5c0e7c1a-1111-4222-8333-944455556666',
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

describe('classifyTokenFailure: Entra error answers', () => {
  const table: Array<{ name: string; status: number; body: string; reason: string; kind: string; remedy?: RegExp }> = [
    {
      name: 'unknown tenant',
      status: 400,
      body: entraBody('invalid_request', 90002, "Tenant 'contoso.onmicrosoft.test' not found. Check to make sure you have the correct tenant ID."),
      reason: 'tenant_not_found',
      kind: 'configuration',
      remedy: /OAUTH2_TENANT_ID.*Directory \(tenant\) ID/,
    },
    {
      name: 'application not in the tenant',
      status: 400,
      body: entraBody(
        'unauthorized_client',
        700016,
        "Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory 'Contoso'.",
      ),
      reason: 'app_not_found',
      kind: 'configuration',
      remedy: /OAUTH2_CLIENT_ID.*Application \(client\) ID/,
    },
    {
      name: 'wrong secret',
      status: 401,
      body: entraBody(
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      ),
      reason: 'invalid_client_secret',
      kind: 'configuration',
      remedy: /Value.*not its Secret ID/,
    },
    {
      name: 'expired secret',
      status: 401,
      body: entraBody('invalid_client', 7000222, "The provided client secret keys for app '1111' are expired."),
      reason: 'expired_client_secret',
      kind: 'configuration',
      remedy: /new client secret/,
    },
    {
      name: 'scope without /.default',
      status: 400,
      body: entraBody('invalid_scope', 1002012, 'The provided value for scope https://outlook.office365.com is not valid.'),
      reason: 'invalid_scope',
      kind: 'configuration',
      remedy: /\/\.default.*SMTP\.SendAsApp.*admin consent/,
    },
    {
      name: 'invalid_scope without an AADSTS number (other providers)',
      status: 400,
      body: JSON.stringify({ error: 'invalid_scope', error_description: 'unknown scope mail.send' }),
      reason: 'invalid_scope',
      kind: 'configuration',
    },
    {
      name: 'throttled',
      status: 429,
      body: entraBody('temporarily_unavailable', 50196, 'The server terminated an operation because it encountered a client request loop.'),
      reason: 'token_endpoint_throttled',
      kind: 'transient',
    },
    {
      name: 'service error',
      status: 503,
      body: entraBody('temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.'),
      reason: 'token_endpoint_unavailable',
      kind: 'transient',
    },
    {
      name: 'gateway page instead of JSON',
      status: 502,
      body: '<html><body>Bad gateway</body></html>',
      reason: 'token_endpoint_unavailable',
      kind: 'transient',
    },
    {
      name: 'other rejection',
      status: 400,
      body: JSON.stringify({ error: 'unauthorized_client', error_description: 'client not allowed to use client_credentials' }),
      reason: 'token_request_rejected',
      kind: 'configuration',
      remedy: /SMTP\.SendAsApp/,
    },
    {
      name: 'generic invalid_client',
      status: 401,
      body: JSON.stringify({ error: 'invalid_client' }),
      reason: 'token_request_rejected',
      kind: 'configuration',
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const error = classifyTokenFailure(parseTokenErrorBody(row.status, row.body));
      assert.equal(error.reason, row.reason);
      assert.equal(error.kind, row.kind);
      if (row.remedy) assert.match(error.remedy ?? '', row.remedy);
      assert.ok(!/Trace ID|\r|\n/.test(error.providerReply ?? ''), 'provider reply is the first line only');
    });
  }

  it('the provider reply is "error: description" on one line', () => {
    const error = classifyTokenFailure(parseTokenErrorBody(401, entraBody('invalid_client', 7000215, 'Invalid client secret provided.')));
    assert.equal(error.providerReply, 'invalid_client: AADSTS7000215: Invalid client secret provided.');
  });

  it('prefers the AADSTS number over the OAuth error field', () => {
    // Entra reports an unknown tenant at discovery as invalid_tenant, at the token endpoint as invalid_request.
    for (const error of ['invalid_tenant', 'invalid_request']) {
      assert.equal(classifyTokenFailure(parseTokenErrorBody(400, entraBody(error, 90002, "Tenant 'x' not found."))).reason, 'tenant_not_found');
    }
    // AADSTS number only in the description.
    const failure: TokenEndpointFailure = { status: 401, error: 'invalid_client', errorDescription: 'AADSTS7000222: expired' };
    assert.equal(classifyTokenFailure(failure).reason, 'expired_client_secret');
  });

  it('keeps Retry-After for transient failures', () => {
    const throttled = classifyTokenFailure(parseTokenErrorBody(429, '{"error":"temporarily_unavailable"}', '30'));
    assert.equal(throttled.retryAfterSeconds, 30);
    const unavailable = classifyTokenFailure(parseTokenErrorBody(503, 'down', '7'));
    assert.equal(unavailable.retryAfterSeconds, 7);
    const config = classifyTokenFailure({ ...parseTokenErrorBody(401, entraBody('invalid_client', 7000215, 'bad')), retryAfterSeconds: 5 });
    assert.equal(config.retryAfterSeconds, undefined);
  });

  it('never lets a registered secret into the reply or the message', () => {
    const secret = 'Xy7~secret.value-never-shown';
    registerSecret(secret);
    const error = classifyTokenFailure({ status: 400, error: 'invalid_request', errorDescription: `bad parameter client_secret=${secret}` });
    assert.ok(!JSON.stringify(error.toJSON()).includes(secret));
    assert.match(error.providerReply ?? '', /\[redacted\]/);
  });
});

describe('classifyTokenFailure: no answer', () => {
  const sysError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const table = [
    { name: 'connection refused', error: sysError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:443'), text: /refused/ },
    { name: 'DNS', error: sysError('ENOTFOUND', 'getaddrinfo ENOTFOUND login.microsoftonline.test'), text: /resolved/ },
    { name: 'timeout', error: sysError('ETIMEDOUT', 'no answer within 15000 ms'), text: /timed out/ },
    { name: 'untrusted certificate', error: sysError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), text: /TLS/ },
    { name: 'expired certificate', error: sysError('CERT_HAS_EXPIRED', 'certificate has expired'), text: /TLS/ },
    {
      name: 'wrapped socket error',
      error: Object.assign(new Error('request failed'), { code: 'REQUEST_SEND_ERROR', cause: sysError('ECONNRESET', 'socket hang up') }),
      text: /reset/,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const error = classifyTokenFailure({ networkError: row.error });
      assert.equal(error.reason, 'token_endpoint_unavailable');
      assert.equal(error.kind, 'transient');
      assert.match(error.message, row.text);
    });
  }

  it('a TLS failure says so and names TLS_EXTRA_CA_FILE', () => {
    const error = classifyTokenFailure({
      networkError: Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
    });
    assert.match(error.message, /TLS certificate was not accepted/);
    assert.match(error.remedy ?? '', /TLS_EXTRA_CA_FILE/);
  });

  it('a 200 answer that is not JSON is a transient endpoint failure', () => {
    assert.equal(classifyTokenFailure(parseTokenErrorBody(200, '<html>')).reason, 'token_endpoint_unavailable');
  });
});

describe('classifyIdentityError: @azure/identity error shapes', () => {
  it('AuthenticationError with errorResponse', () => {
    const error = Object.assign(new Error('invalid_client Status code: 401'), {
      name: 'AuthenticationError',
      statusCode: 401,
      errorResponse: { error: 'invalid_client', errorDescription: 'AADSTS7000215: Invalid client secret provided.', errorCodes: [7000215] },
    });
    const classified = classifyIdentityError(error);
    assert.equal(classified.reason, 'invalid_client_secret');
    assert.equal(classified.providerReply, 'invalid_client: AADSTS7000215: Invalid client secret provided.');
  });

  it('AuthenticationRequiredError caused by MSAL ServerError', () => {
    const cause = Object.assign(new Error('unauthorized_client: Error(s): 700016 - ...'), {
      name: 'ServerError',
      errorCode: 'unauthorized_client',
      errorNo: 700016,
      status: 400,
      errorMessage:
        "Error(s): 700016 - Timestamp: 2026-11-30 10:00:00Z - Description: AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.\r\nTrace ID: t - Correlation ID: c - Trace ID: t",
    });
    const error = Object.assign(new Error(cause.message, { cause }), { name: 'AuthenticationRequiredError' });
    const classified = classifyIdentityError(error);
    assert.equal(classified.reason, 'app_not_found');
    assert.equal(classified.providerReply, "unauthorized_client: AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.");
  });

  it('what the wire showed wins over what the library kept', () => {
    // MSAL turns a 500 with an HTML body into ClientAuthError network_error, dropping the status.
    const cause = Object.assign(new Error('network_error'), { name: 'ClientAuthError', errorCode: 'network_error' });
    const error = Object.assign(new Error('network_error', { cause }), { name: 'AuthenticationRequiredError' });
    const classified = classifyIdentityError(error, { status: 500, malformed: true });
    assert.equal(classified.reason, 'token_endpoint_unavailable');
    assert.equal(classified.providerReply, 'HTTP 500');
  });

  it('CredentialUnavailableError: the socket error seen on the wire explains it', () => {
    const error = Object.assign(new Error('endpoints_resolution_error: See https://aka.ms/msal.js.errors#endpoints_resolution_error for details'), {
      name: 'CredentialUnavailableError',
    });
    const tls = classifyIdentityError(error, {
      networkError: Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
    });
    assert.equal(tls.reason, 'token_endpoint_unavailable');
    assert.match(tls.message, /TLS/);
    const tenant = classifyIdentityError(error, parseTokenErrorBody(400, entraBody('invalid_tenant', 90002, "Tenant 'x' not found.")));
    assert.equal(tenant.reason, 'tenant_not_found');
    const unknown = classifyIdentityError(error);
    assert.equal(unknown.reason, 'token_endpoint_unavailable');
    assert.match(unknown.message, /endpoints_resolution_error/);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, ignores the rest', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120);
    assert.equal(parseRetryAfter('Mon, 30 Nov 2026 10:01:30 GMT', now), 90);
    assert.equal(parseRetryAfter('Mon, 30 Nov 2026 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
