/** Loopback HTTP(S) requests of the bench, one fresh connection each so every measurement pays the same. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SendInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Default 30 s; a rotation run of thousands of tokens needs minutes. */
  timeoutMs?: number;
}

/** One request, no keep-alive. Only loopback URLs: the bench never sends traffic anywhere else. */
export function send(url: string, init: SendInit = {}): Promise<Answer> {
  const target = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname))
    return Promise.reject(new Error(`bench refuses non-loopback URL ${target.origin}`));
  const headers = { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) };
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const method = init.method ?? 'GET';
  return new Promise((resolve, reject) => {
    const req = request(target, { method, headers, agent: false, timeout: init.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${target.pathname}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** `name=value` of every cookie an answer sets, for the next request's Cookie header. */
export function cookiesOf(answer: Answer): string[] {
  const raw = answer.headers['set-cookie'];
  return (Array.isArray(raw) ? raw : raw ? [raw] : []).map((c) => c.split(';')[0] as string);
}

export const formPost = (body: string): SendInit => ({
  method: 'POST',
  // A browser's own same-origin form POST (see the start function's cross-site check).
  headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
  body,
});
