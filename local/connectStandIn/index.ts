/**
 * A stand-in for CloudBlue Connect's public API (the two product-configuration calls this service
 * makes), on loopback HTTP, for tests and local mode. It checks the `Authorization: ApiKey …`
 * header and the request body exactly as Connect's SDKs send them, stores values per product /
 * parameter / marketplace, answers the filtered read-back, and can be told to fail: 5xx and 429
 * with Retry-After, 400/401/403/404 with Connect-shaped errors, dropped connections, hangs and
 * lost writes — in process (`standIn.faults`) or over its JSON control API (`/_connect/…`).
 * Not imported by functions/ or shared/.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { ConnectFaults, faultCommandSchema, standInErrorCodes, type ConnectFault } from './faults';

export { ConnectFaults, connectFaultSchema, type ConnectFault, type ConnectFaultInput } from './faults';

export interface ConnectStandInOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback address to listen on. */
  host?: string;
  /** Keys accepted, as Connect issues them (`SU-000-000-000:…`, with or without the `ApiKey ` prefix). */
  apiKeys: string[];
  /** Products and the configuration parameters each has (e.g. `refresh_token_test`). */
  products: Record<string, string[]>;
}

/** One stored configuration value. */
export interface StoredConfiguration {
  product: string;
  parameter: string;
  marketplace: string;
  value: string;
  updatedAt: string;
}

/** One call as the stand-in saw it: never the header or a value. */
export interface CallRecord {
  method: string;
  product?: string;
  status: number | 'dropped' | 'hung';
}

export interface ConnectStandInStats {
  requests: number;
  writes: number;
  reads: number;
  unauthorized: number;
  faultsInjected: number;
}

export interface ConnectStandIn {
  /** Base URL for CONNECT_API_URL (…/public/v1). */
  readonly url: string;
  /** Origin of the control API (`${origin}/_connect/…`). */
  readonly origin: string;
  readonly faults: ConnectFaults;
  readonly stats: ConnectStandInStats;
  /** Every call since start or reset, oldest first. */
  readonly calls: CallRecord[];
  /** The value Connect holds for a product parameter of a marketplace. */
  value(product: string, parameter: string, marketplace: string): string | undefined;
  configurations(): StoredConfiguration[];
  addProduct(id: string, parameters: string[]): void;
  /** Forgets values, faults, counters and calls (products and keys stay). */
  reset(): void;
  close(): Promise<void>;
}

const base = '/public/v1';
const productPattern = /^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/;
const marketplacePattern = /^MP-[0-9]{5,8}$/;
const maxBody = 64 * 1024;

// The body exactly as the service sends it: nothing more, nothing less.
const configurationBody = z
  .object({
    parameter: z.object({ id: z.string().min(1).max(100) }).strict(),
    marketplace: z.object({ id: z.string().regex(marketplacePattern) }).strict(),
    value: z.string().min(1).max(20_000),
  })
  .strict();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

function stripScheme(key: string): string {
  return key.trim().replace(/^ApiKey /, '');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, errorCode: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error_code: errorCode, errors: [message] }, headers);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new HttpError(413, 'VAL_002', 'Request body too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The filter of a list call: `parameter.id=X&marketplace.id=Y` (the form Connect's SDKs send),
 * or RQL `eq(parameter.id,X)`, `and(eq(…),eq(…))`. Unknown filters are refused, as Connect does.
 */
export function parseFilter(rawQuery: string): { filters: Map<string, string>; limit: number; offset: number } {
  const filters = new Map<string, string>();
  let limit = 100;
  let offset = 0;
  const known = new Set(['parameter.id', 'marketplace.id', 'item.id']);
  const addEq = (expr: string) => {
    for (const m of expr.matchAll(/eq\(([a-z.]+),([^(),]*)\)/g)) {
      const field = m[1] ?? '';
      if (!known.has(field)) throw new HttpError(400, 'RQL_001', `Unknown filter field ${field}.`);
      filters.set(field, decodeURIComponent(m[2] ?? ''));
    }
  };
  for (const part of rawQuery.split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      addEq(decodeURIComponent(part));
      continue;
    }
    const key = decodeURIComponent(part.slice(0, eq));
    const value = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    if (key === 'limit') limit = Math.min(1000, Math.max(1, Number(value) || 100));
    else if (key === 'offset') offset = Math.max(0, Number(value) || 0);
    else if (known.has(key)) filters.set(key, value);
    else throw new HttpError(400, 'RQL_001', `Unknown filter field ${key}.`);
  }
  return { filters, limit, offset };
}

export async function startConnectStandIn(options: ConnectStandInOptions): Promise<ConnectStandIn> {
  const keys = new Set(options.apiKeys.map(stripScheme));
  const products = new Map<string, Set<string>>(Object.entries(options.products).map(([id, params]) => [id, new Set(params)]));
  const values = new Map<string, StoredConfiguration>();
  const faults = new ConnectFaults();
  const stats: ConnectStandInStats = { requests: 0, writes: 0, reads: 0, unauthorized: 0, faultsInjected: 0 };
  const calls: CallRecord[] = [];
  const sockets = new Set<Socket>();
  const keyOf = (product: string, parameter: string, marketplace: string) => `${product}|${parameter}|${marketplace}`;

  const toJson = (c: StoredConfiguration) => ({
    id: `PCV-${c.product.slice(4)}-${c.marketplace.slice(3)}`,
    parameter: { id: c.parameter, scope: 'product', phase: 'configuration' },
    marketplace: { id: c.marketplace },
    item: null,
    value: c.value,
    events: { updated: { at: c.updatedAt } },
  });

  /** Applies a fault; true when it answered (or deliberately did not). */
  function applyFault(fault: ConnectFault, req: IncomingMessage, res: ServerResponse, record: CallRecord): boolean {
    stats.faultsInjected++;
    switch (fault.kind) {
      case 'unavailable':
        record.status = fault.status;
        sendError(
          res,
          fault.status,
          'SRV_001',
          'Service unavailable.',
          fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
        );
        return true;
      case 'throttle':
        record.status = 429;
        sendError(res, 429, 'SRV_002', 'Too many requests.', { 'Retry-After': String(fault.retryAfterSeconds) });
        return true;
      case 'reject':
        record.status = fault.status;
        sendError(res, fault.status, fault.errorCode ?? standInErrorCodes[fault.status], 'Refused by the stand-in (injected fault).');
        return true;
      case 'drop':
        record.status = 'dropped';
        req.socket.destroy();
        return true;
      case 'hang':
        record.status = 'hung';
        return true;
      case 'lostWrite':
        return false; // handled where the write happens
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (url.pathname.startsWith('/_connect/')) return control(req, res, url.pathname.slice('/_connect/'.length), method);

    stats.requests++;
    const m = new RegExp(`^${base}/products/([^/]+)/configurations/?$`).exec(url.pathname);
    const product = m ? decodeURIComponent(m[1] ?? '') : undefined;
    const record: CallRecord = { method, ...(product ? { product } : {}), status: 0 };
    calls.push(record);
    if (!m || !product) {
      record.status = 404;
      return sendError(res, 404, 'NFND_000', 'Not found.');
    }
    if (method !== 'GET' && method !== 'POST') {
      record.status = 405;
      return sendError(res, 405, 'HTTP_405', 'Method not allowed.', { Allow: 'GET, POST' });
    }

    const fault = faults.take(method, product);
    if (fault && applyFault(fault, req, res, record)) return;

    const authorization = req.headers.authorization ?? '';
    // Connect's scheme is `ApiKey <key>`; anything else (Bearer, a bare key, extra spaces) is refused.
    if (!authorization.startsWith('ApiKey ') || !keys.has(authorization.slice('ApiKey '.length))) {
      stats.unauthorized++;
      record.status = 401;
      return sendError(res, 401, standInErrorCodes[401], 'Unauthorized.');
    }
    const parameters = products.get(product);
    if (!productPattern.test(product) || !parameters) {
      record.status = 404;
      return sendError(res, 404, standInErrorCodes[404], `Product ${productPattern.test(product) ? product : ''} not found.`);
    }

    if (method === 'POST') {
      stats.writes++;
      if ((req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json') {
        record.status = 400;
        return sendError(res, 400, standInErrorCodes[400], 'Content-Type must be application/json.');
      }
      let json: unknown;
      try {
        json = JSON.parse(await readBody(req));
      } catch (err) {
        record.status = err instanceof HttpError ? err.status : 400;
        return sendError(res, record.status, standInErrorCodes[400], 'Body is not valid JSON.');
      }
      const body = configurationBody.safeParse(json);
      if (!body.success) {
        record.status = 400;
        // Field paths only: a real API might echo the value, the stand-in deliberately does not.
        return sendError(res, 400, standInErrorCodes[400], `Invalid body: ${body.error.issues.map((i) => i.path.join('.') || i.code).join(', ')}.`);
      }
      if (!parameters.has(body.data.parameter.id)) {
        record.status = 400;
        return sendError(res, 400, standInErrorCodes[400], `Parameter ${body.data.parameter.id} is not a configuration parameter of ${product}.`);
      }
      const stored: StoredConfiguration = {
        product,
        parameter: body.data.parameter.id,
        marketplace: body.data.marketplace.id,
        value: body.data.value,
        updatedAt: new Date().toISOString(),
      };
      if (fault?.kind !== 'lostWrite') values.set(keyOf(product, stored.parameter, stored.marketplace), stored);
      record.status = 201;
      return sendJson(res, 201, toJson(stored));
    }

    stats.reads++;
    const { filters, limit, offset } = parseFilter(url.search.replace(/^\?/, ''));
    const all = [...values.values()].filter(
      (c) =>
        c.product === product &&
        (!filters.has('parameter.id') || filters.get('parameter.id') === c.parameter) &&
        (!filters.has('marketplace.id') || filters.get('marketplace.id') === c.marketplace),
    );
    const page = all.slice(offset, offset + limit);
    record.status = 200;
    sendJson(res, 200, page.map(toJson), { 'Content-Range': `items ${offset}-${offset + Math.max(page.length - 1, 0)}/${all.length}` });
  }

  /** `/_connect/…`: JSON only, so no cross-site form can flip a switch. */
  async function control(req: IncomingMessage, res: ServerResponse, rest: string, method: string): Promise<void> {
    if (method !== 'GET' && (req.headers['content-type'] ?? '').split(';')[0]?.trim() !== 'application/json') {
      return sendJson(res, 415, { error: 'Content-Type must be application/json' });
    }
    const route = `${method} ${rest}`;
    if (route === 'GET stats') return sendJson(res, 200, { ...stats, faultsQueued: faults.pending() });
    if (route === 'DELETE faults') {
      faults.clear();
      return void res.writeHead(204).end();
    }
    if (route === 'POST reset') {
      standIn.reset();
      return void res.writeHead(204).end();
    }
    if (route === 'POST faults' || route === 'POST products') {
      let json: unknown;
      try {
        json = JSON.parse(await readBody(req));
      } catch {
        return sendJson(res, 400, { error: 'Body is not valid JSON' });
      }
      if (route === 'POST products') {
        const parsed = z
          .object({ id: z.string().regex(productPattern), parameters: z.array(z.string().min(1).max(100)).min(1).max(50) })
          .strict()
          .safeParse(json);
        if (!parsed.success) return sendJson(res, 400, { error: z.prettifyError(parsed.error) });
        standIn.addProduct(parsed.data.id, parsed.data.parameters);
        return void res.writeHead(204).end();
      }
      const parsed = faultCommandSchema.safeParse(json);
      if (!parsed.success) return sendJson(res, 400, { error: z.prettifyError(parsed.error) });
      const command = parsed.data;
      if (Array.isArray(command)) for (const f of command) faults.add(f);
      else if ('latencyMs' in command) faults.latencyMs = command.latencyMs;
      else faults.add(command);
      return void res.writeHead(204).end();
    }
    sendJson(res, 404, { error: 'not_found' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      if (err instanceof HttpError) return sendError(res, err.status, err.errorCode, err.message);
      sendError(res, 500, 'SRV_000', 'Internal error.');
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const standIn: ConnectStandIn = {
    url: `${origin}${base}`,
    origin,
    faults,
    stats,
    calls,
    value: (product, parameter, marketplace) => values.get(keyOf(product, parameter, marketplace))?.value,
    configurations: () => [...values.values()].map((c) => ({ ...c })),
    addProduct: (id, parameters) => {
      products.set(id, new Set([...(products.get(id) ?? []), ...parameters]));
    },
    reset: () => {
      values.clear();
      faults.clear();
      calls.length = 0;
      Object.assign(stats, { requests: 0, writes: 0, reads: 0, unauthorized: 0, faultsInjected: 0 });
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return standIn;
}

/** A key in the shape Connect issues (`SU-…:<40 hex>`), for tests and local mode. */
export function newStandInApiKey(): string {
  return `SU-000-000-000:${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '').slice(0, 8)}`;
}
