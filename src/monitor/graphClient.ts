/**
 * The three Microsoft Graph calls rotation needs, on the app registration
 * addressed by its application (client) ID:
 *   POST /v1.0/applications(appId='{id}')/addPassword     { passwordCredential: { displayName, endDateTime } }
 *   POST /v1.0/applications(appId='{id}')/removePassword  { keyId }  → 204
 *   GET  /v1.0/applications(appId='{id}')?$select=passwordCredentials
 * Signed in as the app itself (Application.ReadWrite.OwnedBy, the app owning itself).
 */
import https from 'node:https';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { redact, registerSecret } from '../core/redact';
import { outboundHttpsAgent } from '../transport/tls';

export interface PasswordCredential {
  keyId: string;
  displayName?: string;
  hint?: string;
  endDateTime?: string;
  startDateTime?: string;
  /** Only in the answer to addPassword. */
  secretText?: string;
}

export interface GraphClientOptions {
  /** https://graph.microsoft.com (or a sovereign cloud's). */
  graphUrl: string;
  appId: string;
  /** An access token for `${graphUrl}/.default`. */
  token(): Promise<string>;
  extraCa?: string;
  timeoutMs?: number;
}

export class GraphApplicationClient {
  constructor(private readonly options: GraphClientOptions) {}

  private get base(): string {
    return `${this.options.graphUrl}/v1.0/applications(appId='${encodeURIComponent(this.options.appId)}')`;
  }

  async addPassword(displayName: string, endDateTime: Date): Promise<PasswordCredential & { secretText: string }> {
    const answer = await this.call('POST', `${this.base}/addPassword`, { passwordCredential: { displayName, endDateTime: endDateTime.toISOString() } });
    const credential = answer as PasswordCredential;
    if (!credential || typeof credential.secretText !== 'string' || typeof credential.keyId !== 'string') {
      throw new RelayError('Microsoft Graph addPassword answered without secretText and keyId.', { reason: 'internal_error', kind: 'transient' });
    }
    registerSecret(credential.secretText);
    return credential as PasswordCredential & { secretText: string };
  }

  async removePassword(keyId: string): Promise<void> {
    await this.call('POST', `${this.base}/removePassword`, { keyId });
  }

  async listPasswords(): Promise<PasswordCredential[]> {
    const answer = (await this.call('GET', `${this.base}?$select=passwordCredentials`)) as { passwordCredentials?: PasswordCredential[] };
    return answer?.passwordCredentials ?? [];
  }

  private async call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> {
    const token = await this.options.token();
    const text = body === undefined ? undefined : JSON.stringify(body);
    const timeoutMs = this.options.timeoutMs ?? 20_000;
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = https.request(url, {
        method,
        agent: outboundHttpsAgent(this.options.extraCa),
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }),
        },
        timeout: timeoutMs,
      });
      request.on('timeout', () => request.destroy(new Error(`Microsoft Graph did not answer within ${timeoutMs} ms`)));
      request.on('error', reject);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.end(text);
    }).catch((error: unknown) => {
      throw new RelayError(`Microsoft Graph could not be reached: ${redact(error instanceof Error ? error.message : String(error))}`, {
        reason: 'internal_error',
        kind: 'transient',
        cause: error,
      });
    });
    if (answer.status === 204) return undefined;
    let parsed: unknown;
    try {
      parsed = answer.text ? JSON.parse(answer.text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (answer.status >= 200 && answer.status < 300) return parsed;
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    const reply = redact(`${error?.code ?? `HTTP ${answer.status}`}: ${error?.message ?? ''}`.trim());
    throw new RelayError(`Microsoft Graph refused ${method} ${new URL(url).pathname.split('/').pop()} (HTTP ${answer.status}).`, {
      reason: 'internal_error',
      kind: answer.status >= 500 || answer.status === 429 ? 'transient' : 'configuration',
      providerReply: reply,
      ...(answer.status === 403 || answer.status === 401 ? advice('graph_permission_missing') : {}),
    });
  }
}
