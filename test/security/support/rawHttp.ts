/**
 * Requests exactly as written: any method, Host and X-Forwarded-Host, duplicated headers, raw
 * paths and bodies of any size. fetch() normalises or forbids several of these, so the security
 * tests use node:http directly (loopback only).
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method?: string;
  /** Path and query, sent as is. */
  path: string;
  /** Values given as arrays are sent as separate header lines. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export class RawClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  /** `from`: the loopback address to connect from (127.0.0.2, …): another client address, as the server sees it. */
  constructor(
    private readonly baseUrl: string,
    private readonly from?: string,
  ) {}

  send(r: RawRequest): Promise<RawResponse> {
    const base = new URL(this.baseUrl);
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = request(
        {
          host: this.from ? '127.0.0.1' : base.hostname,
          port: base.port,
          ...(this.from ? { localAddress: this.from } : {}),
          method: r.method ?? 'GET',
          path: r.path,
          headers: r.headers ?? {},
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            answered = true;
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', reject);
        },
      );
      // A server that answers 413 before reading the whole body resets the upload: that is the answer, not an error.
      req.on('error', (err) => {
        if (!answered) setTimeout(() => (answered ? undefined : reject(err)), 50);
      });
      if (r.body !== undefined) req.end(r.body);
      else req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
