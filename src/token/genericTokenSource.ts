/**
 * Client-credentials tokens from any OAuth2 provider: the plain RFC 6749 §4.4
 * request (form POST with grant_type=client_credentials, client_id,
 * client_secret, scope) over node:https, with the relay's TLS policy (src/transport/tls.ts).
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { OAuthSettings } from '../settings';
import { silentLogger, type Logger } from '../core/log';
import { classifyTokenFailure, parseTokenErrorBody, type TokenEndpointFailure } from './classifyTokenError';
import type { TokenSourceOptions } from './microsoftTokenSource';
import { outboundHttpsAgent } from '../transport/tls';
import { ASSUMED_LIFETIME_MS, DEFAULT_TOKEN_REQUEST_TIMEOUT_MS, type AccessToken, type TokenSource } from './types';

/** The client secret's value, wherever it was read (the setting or Key Vault). */
export type GenericTokenSettings = Pick<OAuthSettings, 'clientId' | 'scopes'> & { clientSecret: string; tokenUrl: string };

/** Token answers are small; anything bigger is not a token answer. */
const MAX_ANSWER_BYTES = 256 * 1024;

class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no answer from the token endpoint within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export class GenericTokenSource implements TokenSource {
  private readonly url: URL;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(
    private readonly settings: GenericTokenSettings,
    private readonly options: TokenSourceOptions = {},
  ) {
    this.url = new URL(settings.tokenUrl);
    // The request carries the client secret: never over plain HTTP.
    if (this.url.protocol !== 'https:') throw new Error(`the token URL must use https: ${this.url.origin}`);
    if (!settings.clientSecret) throw new Error('GenericTokenSource needs a client secret');
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  async fetchToken(): Promise<AccessToken> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.settings.clientId,
      client_secret: this.settings.clientSecret,
      scope: this.settings.scopes.join(' '),
    }).toString();

    return postTokenForm(this.url, form, { ...this.options, logger: this.logger, now: this.now });
  }
}

/**
 * One token request: the form POSTed to `url` (https only) with the relay's TLS policy and one
 * deadline, the answer read as RFC 6749 §5.1 (a token) or §5.2 (an error, classified). Any grant
 * that is a form POST uses it (client credentials; Google's JWT bearer).
 */
export async function postTokenForm(url: URL, form: string, options: TokenSourceOptions = {}): Promise<AccessToken> {
  if (url.protocol !== 'https:') throw new Error(`the token URL must use https: ${url.origin}`);
  let answer: { status: number; text: string; retryAfter?: string };
  try {
    answer = await post(url, form, options);
  } catch (error) {
    throw classifyTokenFailure({ networkError: error }, error);
  }
  if (answer.status < 200 || answer.status >= 300) {
    throw classifyTokenFailure(parseTokenErrorBody(answer.status, answer.text, answer.retryAfter));
  }
  return readToken(answer.status, answer.text, options.logger ?? silentLogger, options.now ?? Date.now);
}

function readToken(status: number, text: string, logger: Logger, now: () => number): AccessToken {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // handled below
  }
  const failure: TokenEndpointFailure = { status, malformed: true };
  if (!body) throw classifyTokenFailure(failure);
  if (typeof body.error === 'string') throw classifyTokenFailure(parseTokenErrorBody(status, text));
  if (typeof body.access_token !== 'string' || !body.access_token) throw classifyTokenFailure(failure);

  if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') {
    // XOAUTH2 sends the token as a bearer token; another type will most likely be refused by the SMTP server.
    logger.warn('the token endpoint returned a token type other than Bearer', {
      event: 'token.unexpected_type',
      tokenType: body.token_type,
    });
  }
  const at = now();
  const expiresIn = Number(body.expires_in);
  if (!(body.expires_in !== undefined && body.expires_in !== null && Number.isFinite(expiresIn) && expiresIn > 0)) {
    logger.warn('the token response gave no usable expires_in; assuming a short lifetime', {
      event: 'token.lifetime_missing',
      assumedLifetimeSeconds: ASSUMED_LIFETIME_MS / 1000,
    });
    return { token: body.access_token, expiresOnTimestamp: at + ASSUMED_LIFETIME_MS };
  }
  return { token: body.access_token, expiresOnTimestamp: at + expiresIn * 1000 };
}

function post(url: URL, form: string, options: TokenSourceOptions): Promise<{ status: number; text: string; retryAfter?: string }> {
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const request = https.request(url, {
      method: 'POST',
      agent: outboundHttpsAgent(options.extraCa),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(form),
        accept: 'application/json',
      },
    });
    // One deadline for the whole exchange (connect, TLS, answer), not an idle timer.
    const timer = setTimeout(() => request.destroy(new RequestTimeoutError(timeoutMs)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    request.on('error', fail);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) request.destroy(new Error('the token endpoint answer is too large'));
        else chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          retryAfter: firstHeaderValue(response.headers['retry-after']),
        });
      });
    });
    request.end(form);
  });
}

/** A header's value, the first one when it came as a list. */
function firstHeaderValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}
