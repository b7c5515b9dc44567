/** Small HTTP helpers: bounded bodies, JSON / HTML / redirect answers with the headers Entra (and a careful server) sends. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Token requests carry a refresh token of a few KB; nothing legitimate comes near this. */
export const MAX_BODY_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the whole body, refusing (413) anything larger than the limit instead of buffering it. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, 'Request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'Request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A form body; an empty or non-form body reads as no parameters (the handlers then report what is missing). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req);
  return mediaType(req) === 'application/x-www-form-urlencoded' ? new URLSearchParams(body) : new URLSearchParams();
}

const baseHeaders = {
  'X-Content-Type-Options': 'nosniff',
  // Codes travel in redirect URLs; never hand them to a third party in a Referer.
  'Referrer-Policy': 'no-referrer',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...baseHeaders,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    // Token responses MUST NOT be cached (RFC 6749 §5.1).
    'Cache-Control': 'no-store, no-cache',
    Pragma: 'no-cache',
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string, csp: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...baseHeaders,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    ...headers,
  });
  res.end(html);
}

/** 302 for GET flows (as Entra), 303 after a form POST so the browser follows with GET. */
export function redirect(res: ServerResponse, location: string, status: 302 | 303 = 302): void {
  res.writeHead(status, { ...baseHeaders, Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0 });
  res.end();
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...baseHeaders, 'Cache-Control': 'no-store', 'Content-Length': 0, ...headers });
  res.end();
}
