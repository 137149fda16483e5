/**
 * The relay's own SASL steps, plugged into nodemailer as custom auth handlers.
 *
 * nodemailer skips AUTH when the server does not advertise it, and with
 * `forceAuth` it sends the credentials blind. These handlers run on every
 * connection (forceAuth makes nodemailer call them) and refuse to go on when
 * the server does not offer the mechanism: the connection fails, nothing is
 * sent unauthenticated, and no token or password goes to a server that did not
 * ask for it. They also remember which token a refused login used, so the
 * sender drops exactly that token from the cache.
 */
import type { CustomAuthenticationContext, CustomAuthenticationResponse } from 'nodemailer/lib/smtp-connection';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';

/** The method name the password handler is registered under (it speaks PLAIN or LOGIN, whichever is offered). */
export const PASSWORD_METHOD = 'RELAY-PASSWORD';

const tokenOfRefusedLogin = new WeakMap<object, string>();
const challengeOfRefusedLogin = new WeakMap<object, XOAuth2Challenge>();

/**
 * The error details a server sent in its 334 before refusing the token (RFC 7628 §3.2.2; Gmail:
 * base64 of {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}). Only these
 * three fields, each cut to a short run of URL-safe characters: the server's text is not ours.
 */
export interface XOAuth2Challenge {
  status?: string;
  schemes?: string;
  scope?: string;
}

/** The challenge of a refused XOAUTH2 login, if `error` is one and the server sent one. */
export function challengeOfRefusal(error: unknown): XOAuth2Challenge | undefined {
  return error && typeof error === 'object' ? challengeOfRefusedLogin.get(error) : undefined;
}

function readChallenge(text: string): XOAuth2Challenge | undefined {
  if (text.length > 4096) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(text.trim(), 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!data || typeof data !== 'object') return undefined;
  const challenge: XOAuth2Challenge = {};
  for (const field of ['status', 'schemes', 'scope'] as const) {
    const value = (data as Record<string, unknown>)[field];
    if (typeof value === 'string' && /^[\w:/.\- ]{1,200}$/.test(value)) challenge[field] = value;
  }
  return Object.keys(challenge).length > 0 ? challenge : undefined;
}

/** The access token a refused XOAUTH2 login used, if `error` is such a refusal. */
export function tokenRefusedBy(error: unknown): string | undefined {
  return error && typeof error === 'object' ? tokenOfRefusedLogin.get(error) : undefined;
}

function authNotOffered(offered: string[], wanted: string): RelayError {
  const what = offered.length ? `AUTH ${offered.join(' ')} but not ${wanted}` : 'no AUTH at all';
  return new RelayError(`SMTP: the server offered ${what}; the relay does not send without authenticating, so nothing was sent.`, {
    reason: 'smtp_auth_not_offered',
    kind: 'configuration',
    ...advice('smtp_auth_not_offered'),
  });
}

export interface AuthCounters {
  authentications: number;
}

/** AUTH XOAUTH2 with the token nodemailer's per-connection XOAuth2 object gets from our provisionCallback. */
export function xoauth2Handler(counters: AuthCounters) {
  return async (ctx: CustomAuthenticationContext): Promise<void> => {
    if (!ctx.authMethods.includes('XOAUTH2')) throw authNotOffered(ctx.authMethods, 'XOAUTH2');
    const oauth2 = ctx.auth.oauth2;
    if (!oauth2) throw new Error('XOAUTH2 login without a token provider');
    const token = await new Promise<string>((resolve, reject) =>
      oauth2.getToken(false, (error, accessToken) => (error ? reject(error) : resolve(accessToken))),
    );
    counters.authentications++;
    let reply = await ctx.sendCommand(`AUTH XOAUTH2 ${oauth2.buildXOAuth2Token(token)}`);
    // A 334 carries the error details (RFC 7628); the client answers empty and gets the final reply.
    let challenge: XOAuth2Challenge | undefined;
    if (reply.status === 334) {
      challenge = readChallenge(reply.text ?? '');
      reply = await ctx.sendCommand('');
    }
    if (reply.status === 235) return;
    const refused = new Error('AUTH XOAUTH2 was refused');
    tokenOfRefusedLogin.set(refused, token);
    if (challenge) challengeOfRefusedLogin.set(refused, challenge);
    throw refused;
  };
}

/** Password login (OAuth2 switched off): AUTH PLAIN, or AUTH LOGIN when only that is offered. */
export function passwordHandler(counters: AuthCounters) {
  return async (ctx: CustomAuthenticationContext): Promise<void> => {
    const { user, pass } = ctx.auth.credentials;
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
    let reply: CustomAuthenticationResponse;
    let mechanism: string;
    if (ctx.authMethods.includes('PLAIN')) {
      mechanism = 'PLAIN';
      counters.authentications++;
      reply = await ctx.sendCommand(`AUTH PLAIN ${b64(`\u0000${user}\u0000${pass}`)}`);
    } else if (ctx.authMethods.includes('LOGIN')) {
      mechanism = 'LOGIN';
      counters.authentications++;
      reply = await ctx.sendCommand('AUTH LOGIN');
      if (reply.status === 334) reply = await ctx.sendCommand(b64(user));
      if (reply.status === 334) reply = await ctx.sendCommand(b64(pass));
    } else {
      throw authNotOffered(ctx.authMethods, 'PLAIN or LOGIN');
    }
    if (reply.status !== 235) throw new Error(`AUTH ${mechanism} was refused`);
  };
}
