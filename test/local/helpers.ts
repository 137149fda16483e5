import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { createLocalCertificates, type LocalCertificates } from '../../local/certs';

let shared: Promise<LocalCertificates> | undefined;

/** One CA per test process: openssl takes ~0.5 s, the servers only need some valid pair. */
export function sharedCertificates(): Promise<LocalCertificates> {
  return (shared ??= mkdtemp(path.join(os.tmpdir(), 'relay-certs-')).then((dir) => createLocalCertificates(dir)));
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface HttpsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** POST a form over HTTPS trusting `ca` (global fetch cannot take a CA without an extra package). */
export async function postForm(
  url: string,
  form: Record<string, string>,
  ca: string,
  headers: Record<string, string> = {},
): Promise<HttpsReply> {
  const https = await import('node:https');
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
