import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { createLocalCertificates, type LocalCertificates } from '../../local/certs';

let shared: Promise<LocalCertificates> | undefined;

/** One CA per test process: the servers only need some valid pair. */
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
export async function postForm(url: string, form: Record<string, string>, ca: string, headers: Record<string, string> = {}): Promise<HttpsReply> {
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

/** A minimal SMTP client that speaks one command at a time, for protocol-level checks nodemailer hides. */
export class RawSmtpClient {
  private buffer = '';
  private waiting: ((reply: string) => void) | undefined;
  private readonly replies: string[] = [];

  private constructor(private socket: import('node:net').Socket) {
    this.attach(socket);
  }

  static async connect(port: number): Promise<{ client: RawSmtpClient; greeting: string }> {
    const net = await import('node:net');
    const socket = net.connect(port, '127.0.0.1');
    const client = new RawSmtpClient(socket);
    return { client, greeting: await client.nextReply() };
  }

  /** Send a command line and wait for its complete (possibly multi-line) reply. */
  async command(line: string): Promise<string> {
    this.socket.write(line + '\r\n');
    return this.nextReply();
  }

  async startTls(ca: string): Promise<void> {
    const reply = await this.command('STARTTLS');
    if (!reply.startsWith('220')) throw new Error(`STARTTLS refused: ${reply}`);
    const tls = await import('node:tls');
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }

  private attach(socket: import('node:net').Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.buffer += data;
      // A reply ends with a line "NNN text" (space after the code, not a dash).
      let match: RegExpExecArray | null;
      while ((match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buffer))) {
        this.buffer = this.buffer.slice(match[0].length);
        this.replies.push(match[0].trimEnd());
      }
      this.flush();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.replies.push('(connection closed)');
      this.flush();
    });
  }

  private flush(): void {
    if (this.waiting && this.replies.length) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(this.replies.shift()!);
    }
  }

  private nextReply(): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.flush();
    });
  }
}

/** The base64 XOAUTH2 initial response nodemailer sends. */
export function xoauth2(user: string, token: string): string {
  return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
}
